output "alert_policy_names" {
  description = "Resource names of the alert policies, keyed by purpose (absent when there is nothing to watch)."
  value = merge(
    { for policy in google_monitoring_alert_policy.dead_letters_arriving : "dead_letters_arriving" => policy.name },
    { for policy in google_monitoring_alert_policy.dead_letters_awaiting_review : "dead_letters_awaiting_review" => policy.name },
    { for policy in google_monitoring_alert_policy.function_error_rate : "function_error_rate" => policy.name },
    { for policy in google_monitoring_alert_policy.webhook_5xx : "webhook_5xx" => policy.name },
    { for policy in google_monitoring_alert_policy.channel_unhealthy : "channel_unhealthy" => policy.name },
  )
}

output "log_metric_types" {
  description = "Cloud Monitoring metric types of the log-based metrics, keyed by event."
  value       = { for key, metric in google_logging_metric.event : key => "logging.googleapis.com/user/${metric.name}" }
}
