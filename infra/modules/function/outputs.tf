output "name" {
  description = "Name of the function (and of the Cloud Run service behind it)."
  value       = google_cloudfunctions2_function.this.name
}

output "service_name" {
  description = "Cloud Run service that serves the function; monitoring filters on it."
  value       = google_cloudfunctions2_function.this.name
}

output "url" {
  description = "The function's cloudfunctions.net URL, the stable address to give providers."
  value       = google_cloudfunctions2_function.this.url
}

output "uri" {
  description = "The run.app URI of the Cloud Run service: push endpoint base and OIDC audience."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "service_account_email" {
  description = "Email of the function's runtime service account."
  value       = google_service_account.runtime.email
}

output "service_account_member" {
  description = "IAM member string (serviceAccount:<email>) of the function's runtime service account."
  value       = local.service_account_member
}
