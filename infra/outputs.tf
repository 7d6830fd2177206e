output "webhook_urls" {
  description = "Callback URL of each public webhook function, keyed by entry point: paste into the Meta (Messenger, Instagram, WhatsApp), Telegram or Twilio console."
  value = {
    for key, _ in local.webhook_functions : key => module.functions[key].url
    if try(local.topology.functions[key].public, false)
  }
}

output "function_urls" {
  description = "URL of every function, keyed by entry point."
  value       = { for key, fn in module.functions : key => fn.url }
}

output "function_service_accounts" {
  description = "Runtime service account of every function, keyed by entry point."
  value       = { for key, fn in module.functions : key => fn.service_account_email }
}

output "queue_names" {
  description = "Cloud Tasks queue of each outbound channel, keyed by channel kind."
  value       = { for key, queue in module.queues : key => queue.name }
}

output "queue_ids" {
  description = "Full resource name of each Cloud Tasks queue, keyed by channel kind."
  value       = { for key, queue in module.queues : key => queue.id }
}

output "tasks_invoker_service_account" {
  description = "Service account whose OIDC token Cloud Tasks attaches to deliver requests."
  value       = google_service_account.tasks_invoker.email
}

output "topics" {
  description = "Pub/Sub topic names, keyed as in topology.json."
  value       = { for key, topic in google_pubsub_topic.this : key => topic.name }
}

output "subscriptions" {
  description = "Pub/Sub subscription names, keyed as in topology.json."
  value       = { for key, sub in google_pubsub_subscription.this : key => sub.name }
}

output "dashboard_url" {
  description = "Firebase Hosting URL of the agent dashboard."
  value       = google_firebase_hosting_site.dashboard.default_url
}

output "project_id" {
  description = "Project of this environment (the dashboard's projectId)."
  value       = var.project_id
}

output "region" {
  description = "Region of the functions and queues."
  value       = var.region
}

output "hosting_site_id" {
  description = "Firebase Hosting site that serves the dashboard (scripts/deploy.py deploys web/dist to it)."
  value       = google_firebase_hosting_site.dashboard.site_id
}

output "dashboard_api_key" {
  description = "The dashboard's Firebase web API key, served to browsers in /config.json (public by design). Marked sensitive only so that Terraform accepts it whether or not the provider marks it so; `terraform output -json` prints it."
  value       = data.google_firebase_web_app_config.dashboard.api_key
  sensitive   = true
}

output "dashboard_web_app_id" {
  description = "Firebase web app id of the dashboard (its Firebase config is public, not a secret)."
  value       = google_firebase_web_app.dashboard.app_id
}

output "secret_ids" {
  description = "Secret Manager secrets an operator must give a version before the first deploy, keyed by environment variable."
  value       = { for env, secret in google_secret_manager_secret.app : env => secret.secret_id }
}

output "alert_policies" {
  description = "Alert policy names, keyed by purpose."
  value       = module.monitoring.alert_policy_names
}

output "web_push_vapid_key" {
  description = "The web push VAPID public key the dashboard's /config.json carries as webPush.vapidKey (empty: web push off)."
  value       = var.web_push_vapid_key
}
