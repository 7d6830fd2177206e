# One 2nd-gen Cloud Function with its own runtime service account: the account holds exactly the
# roles passed in, reads exactly the secrets mounted as environment variables, and the function is
# invocable by exactly the members passed in (or by anyone when public).

locals {
  service_account_member = "serviceAccount:${google_service_account.runtime.email}"

  # Public functions are called from the internet by callers without Google credentials: provider
  # webhooks (every request authenticated by the provider's signature over the raw body) and
  # dashboard-facing endpoints (Firebase ID token checked in code). Private ones are called only by
  # Pub/Sub push or Cloud Tasks of the same project, which Cloud Run counts as internal traffic.
  ingress_settings = var.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"

  # functions-framework (gunicorn) serves as many requests at once as it has threads: one per
  # request Cloud Run may send an instance (Google's advice for Python: THREADS = concurrency).
  server_environment = {
    THREADS = tostring(var.max_instance_request_concurrency)
  }
}

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "fn-${var.name}"
  display_name = "Switchboard function ${var.name}"
  description  = "Runtime identity of the ${var.entry_point} function."
}

resource "google_project_iam_member" "runtime" {
  for_each = toset(var.project_roles)

  project = var.project_id
  role    = each.value
  member  = local.service_account_member
}

resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each = var.secret_environment_variables

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.service_account_member
}

resource "google_cloudfunctions2_function" "this" {
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description
  labels      = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = var.entry_point
    service_account   = var.build_service_account_id
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    available_memory                 = var.available_memory
    available_cpu                    = var.available_cpu
    max_instance_request_concurrency = var.max_instance_request_concurrency
    min_instance_count               = var.min_instance_count
    max_instance_count               = var.max_instance_count
    timeout_seconds                  = var.timeout_seconds
    ingress_settings                 = local.ingress_settings
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.runtime.email
    environment_variables            = merge(var.environment_variables, local.server_environment)

    dynamic "secret_environment_variables" {
      for_each = var.secret_environment_variables
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.public || length(var.invoker_members) > 0
      error_message = "Function ${var.name} is private and nobody may invoke it: give it invoker_members (its trigger in topology.json) or make it public."
    }

    # Sizing Cloud Run functions accept (sizing.tf): a refused size fails the plan, not the deploy.
    precondition {
      condition     = local.concurrency_ok
      error_message = "Function ${var.name}: concurrency ${var.max_instance_request_concurrency} needs at least 1 vCPU (Cloud Run serves one request at a time on a fraction of a vCPU): give it cpu 1 or concurrency 1."
    }

    precondition {
      condition     = local.cpu_memory_ok
      error_message = "Function ${var.name}: ${var.available_cpu} vCPU with ${var.available_memory} is not a size Cloud Run accepts (0.08-1 vCPU: at most 1 GiB; 1 or 2 vCPU: 512 MiB-4/8 GiB; 4, 6, 8 vCPU: 2-16, 4-24, 4-32 GiB)."
    }

    precondition {
      condition     = local.instances_ok
      error_message = "Function ${var.name}: max_instance_count must be at least 1 and at least min_instance_count (${var.min_instance_count}), not ${var.max_instance_count}."
    }
  }

  # The runtime account must be able to read its secrets before the first revision starts.
  depends_on = [google_secret_manager_secret_iam_member.runtime]
}

# A 2nd-gen function is served by a Cloud Run service of the same name: invocation is run.invoker.
resource "google_cloud_run_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:Only functions marked public in topology.json: provider webhooks that Meta, Telegram and Twilio call without Google credentials, each request authenticated in code by the provider's signature over the raw body (later also dashboard endpoints that verify a Firebase ID token).
  count = var.public ? 1 : 0

  project  = var.project_id
  location = google_cloudfunctions2_function.this.location
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = var.invoker_members

  project  = var.project_id
  location = google_cloudfunctions2_function.this.location
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
