# Alerts that say a message may be stuck or lost, and the log-based metrics they need.
#
# Functions are 2nd-gen Cloud Functions, served by Cloud Run services of the same name, so request
# metrics are run.googleapis.com/request_count on cloud_run_revision.

locals {
  display_prefix = "Switchboard ${var.environment}"

  quoted_functions      = join(", ", [for name in var.function_service_names : "\"${name}\""])
  quoted_webhooks       = join(", ", [for name in var.webhook_service_names : "\"${name}\""])
  quoted_dead_topics    = join(", ", [for id in var.dead_letter_topic_ids : "\"${id}\""])
  quoted_dead_subs      = join(", ", [for id in var.dead_letter_subscription_ids : "\"${id}\""])
  quoted_dead_lettering = join(", ", [for id in var.dead_lettering_subscription_ids : "\"${id}\""])

  requests_filter = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\""
}

# --- log-based metrics on structured log fields (jsonPayload.event) ------------------------------

resource "google_logging_metric" "event" {
  for_each = var.log_events

  project     = var.project_id
  name        = "${var.metric_prefix}/${each.key}"
  description = each.value.description
  filter      = "resource.type = \"cloud_run_revision\" AND jsonPayload.event = \"${each.value.event}\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${local.display_prefix}: ${each.key}"

    labels {
      key         = each.value.label
      value_type  = "STRING"
      description = "Value of jsonPayload.${each.value.label} in the log entry."
    }
  }

  label_extractors = {
    (each.value.label) = "EXTRACT(jsonPayload.${each.value.label})"
  }
}

# --- dead letters --------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters_arriving" {
  count = length(var.dead_letter_topic_ids) + length(var.dead_lettering_subscription_ids) > 0 ? 1 : 0

  project      = var.project_id
  display_name = "${local.display_prefix}: inbound events dead-lettered"
  combiner     = "OR"
  severity     = "ERROR"

  dynamic "conditions" {
    for_each = length(var.dead_lettering_subscription_ids) > 0 ? [true] : []
    content {
      display_name = "Messages forwarded to a dead-letter topic"
      condition_threshold {
        filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.labels.subscription_id = one_of(${local.quoted_dead_lettering})"
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "0s"
        aggregations {
          alignment_period     = "300s"
          per_series_aligner   = "ALIGN_DELTA"
          cross_series_reducer = "REDUCE_SUM"
          group_by_fields      = ["resource.label.subscription_id"]
        }
        trigger {
          count = 1
        }
      }
    }
  }

  dynamic "conditions" {
    for_each = length(var.dead_letter_topic_ids) > 0 ? [true] : []
    content {
      display_name = "Messages published to a dead-letter topic"
      condition_threshold {
        filter          = "resource.type = \"pubsub_topic\" AND metric.type = \"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.labels.topic_id = one_of(${local.quoted_dead_topics})"
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "0s"
        aggregations {
          alignment_period     = "300s"
          per_series_aligner   = "ALIGN_DELTA"
          cross_series_reducer = "REDUCE_SUM"
          group_by_fields      = ["resource.label.topic_id"]
        }
        trigger {
          count = 1
        }
      }
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "ingest failed an event ${var.max_delivery_attempts_hint} times and Pub/Sub dead-lettered it. Nothing is lost: inspect the dead-letter review subscription, fix the cause, then replay with the admin CLI."
  }
}

resource "google_monitoring_alert_policy" "dead_letters_awaiting_review" {
  count = length(var.dead_letter_subscription_ids) > 0 ? 1 : 0

  project      = var.project_id
  display_name = "${local.display_prefix}: dead letters awaiting review"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "Undelivered messages in a dead-letter review subscription"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = one_of(${local.quoted_dead_subs})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
      trigger {
        count = 1
      }
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "604800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Dead-lettered inbound events are waiting in the review subscription. Replay them with the admin CLI once the cause is fixed; they expire with the subscription's retention."
  }
}

# --- function errors -----------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "function_error_rate" {
  count = length(var.function_service_names) > 0 ? 1 : 0

  project      = var.project_id
  display_name = "${local.display_prefix}: function error rate"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "Share of requests answered 5xx above ${var.error_rate_threshold}"
    condition_threshold {
      filter             = "${local.requests_filter} AND metric.labels.response_code_class = \"5xx\" AND resource.labels.service_name = one_of(${local.quoted_functions})"
      denominator_filter = "${local.requests_filter} AND resource.labels.service_name = one_of(${local.quoted_functions})"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.error_rate_threshold
      duration           = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      trigger {
        count = 1
      }
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A function answers 5xx to more than ${var.error_rate_threshold * 100}% of its requests. For ingest this means Pub/Sub is retrying (and will dead-letter); for deliver, Cloud Tasks is retrying. Check the function's logs."
  }
}

resource "google_monitoring_alert_policy" "webhook_5xx" {
  count = length(var.webhook_service_names) > 0 ? 1 : 0

  project      = var.project_id
  display_name = "${local.display_prefix}: webhook 5xx"
  combiner     = "OR"
  severity     = "CRITICAL"

  conditions {
    display_name = "Webhook answered 5xx (publishing failed; the provider will retry)"
    condition_threshold {
      filter          = "${local.requests_filter} AND metric.labels.response_code_class = \"5xx\" AND resource.labels.service_name = one_of(${local.quoted_webhooks})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.webhook_5xx_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      trigger {
        count = 1
      }
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A provider webhook answered 5xx: the event was not confirmed published, so the provider retries (Meta for up to 36 h, WhatsApp 7 days). Repeated failures make Meta disable the subscription. Check Pub/Sub publishing from the webhook's logs."
  }
}

# --- channel health ------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "channel_unhealthy" {
  count = contains(keys(var.log_events), "channel_unhealthy") ? 1 : 0

  project      = var.project_id
  display_name = "${local.display_prefix}: channel unhealthy"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "A function logged event=channel_unhealthy"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.event["channel_unhealthy"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.${var.log_events["channel_unhealthy"].label}"]
      }
      trigger {
        count = 1
      }
    }
  }

  notification_channels = var.notification_channels

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A channel reported itself unhealthy (expired or revoked token, webhook subscription removed, provider errors). See the channel's health in Firestore (tenants/{t}/channels/{c}.health) and reconnect it."
  }
}
