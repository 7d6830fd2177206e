# Data retention (shared/retention.py): once a day Cloud Scheduler queues a retention_sweep task on
# the jobs queue, through the Cloud Tasks API itself, so the sweep reaches deliver as every other
# task does (OIDC token of the tasks invoker, which deliver verifies); deliver then queues one
# retention run per tenant that has settings.retentionDays.
#
# The scheduler's own account may only create tasks on the jobs queue and name the tasks invoker as
# their identity (actAs), as the functions that enqueue do (infra/main.tf).

resource "google_service_account" "retention_scheduler" {
  project      = var.project_id
  account_id   = "switchboard-retention-cron"
  display_name = "Switchboard retention scheduler"
  description  = "Cloud Scheduler's identity: queues the daily retention sweep on the jobs queue."
}

resource "google_cloud_tasks_queue_iam_member" "retention_scheduler" {
  project  = var.project_id
  location = module.queues["jobs"].location
  name     = module.queues["jobs"].name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.retention_scheduler.email}"
}

resource "google_service_account_iam_member" "retention_scheduler_acts_as_tasks_invoker" {
  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.retention_scheduler.email}"
}

locals {
  retention_deliver_url = local.function_environment.SWITCHBOARD_DELIVER_URL
  # The Cloud Tasks API's CreateTask request: an HTTP task to deliver, as shared/jobs.py writes it.
  retention_sweep_task = {
    task = {
      httpRequest = {
        httpMethod = "POST"
        url        = local.retention_deliver_url
        headers    = { "Content-Type" = "application/json" }
        body       = base64encode(jsonencode({ tenantId = "", conversationId = "", action = "retention_sweep" }))
        oidcToken = {
          serviceAccountEmail = google_service_account.tasks_invoker.email
          audience            = local.retention_deliver_url
        }
      }
    }
  }
}

resource "google_cloud_scheduler_job" "retention_sweep" {
  project          = var.project_id
  region           = var.region
  name             = "switchboard-retention-sweep"
  description      = "Daily: delete messages and media older than each tenant's settings.retentionDays."
  schedule         = var.retention_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://cloudtasks.googleapis.com/v2/${module.queues["jobs"].id}/tasks"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode(local.retention_sweep_task))

    oauth_token {
      service_account_email = google_service_account.retention_scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [
    google_project_service.required,
    google_cloud_tasks_queue_iam_member.retention_scheduler,
    google_service_account_iam_member.retention_scheduler_acts_as_tasks_invoker,
  ]
}
