# Staging: same topology as prod, scaled to zero when idle.
# terraform -chdir=infra init -backend-config=environments/staging.gcs.tfbackend
# terraform -chdir=infra apply -var-file=environments/staging.tfvars

project_id         = "switchboard-staging"
region             = "europe-west1"
environment        = "staging"
firestore_location = "eur3"
hosting_site_id    = "switchboard-staging-dashboard"

# Our Meta app id (public, not a secret). The app secret and verify token are Secret Manager
# secrets: add their versions with gcloud, never here.
meta_app_id = ""
log_level   = "DEBUG"

min_instance_count_override  = 0
tasks_logging_sampling_ratio = 1.0

authorized_domains       = ["localhost"]
notification_channel_ids = []
alert_email_addresses    = []

labels = {
  cost_center = "switchboard-staging"
}
