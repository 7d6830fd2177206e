# Production.
# terraform -chdir=infra init -backend-config=environments/prod.gcs.tfbackend
# terraform -chdir=infra apply -var-file=environments/prod.tfvars

project_id         = "switchboard-prod"
region             = "europe-west1"
environment        = "prod"
firestore_location = "eur3"
hosting_site_id    = "switchboard-dashboard"

# Our Meta app id (public, not a secret). The app secret and verify token are Secret Manager
# secrets: add their versions with gcloud, never here.
meta_app_id = ""
log_level   = "INFO"

# min_instances come from topology.json (webhooks and ingest stay warm).
min_instance_count_override  = null
tasks_logging_sampling_ratio = 0.2

authorized_domains       = []
notification_channel_ids = []
alert_email_addresses    = []

labels = {
  cost_center = "switchboard-prod"
}
