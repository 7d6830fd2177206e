# Switchboard: every cloud resource of one environment (staging or prod).
#
# infra/topology.json is the single declaration of topics, subscriptions, Cloud Tasks queues and
# functions. Terraform reads it here and the local emulator stack (infra/local/) reads the same file,
# so adding a function or a queue to topology.json declares it in both places.

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  # Firebase and Identity Platform APIs bill quota to the project, not to the caller's ADC project.
  user_project_override = true
  billing_project       = var.project_id

  default_labels = local.labels
}

locals {
  topology = jsondecode(file("${path.module}/topology.json"))

  labels = merge(var.labels, {
    app         = "switchboard"
    environment = var.environment
  })

  # Deployed names use hyphens (Cloud Run service names cannot hold underscores); the topology key
  # stays the functions-framework target exported by main.py and becomes the entry point.
  function_names = { for key, _ in local.topology.functions : key => replace(key, "_", "-") }

  # Environment of every function. The authoritative list of what the code reads is
  # shared.config.ENVIRONMENT; tests/infra/test_infrastructure.py fails when the two disagree.
  function_environment = {
    # Deployed functions run in production configuration: they refuse to start with any emulator
    # (local-only) variable set and trust no emulator shortcut (shared/config.py). The local stack
    # leaves it unset.
    SWITCHBOARD_ENV                      = "production"
    GOOGLE_CLOUD_PROJECT                 = var.project_id
    SWITCHBOARD_INBOUND_TOPIC            = local.topology.topics.inbound_events
    SWITCHBOARD_DEAD_LETTER_SUBSCRIPTION = local.topology.subscriptions.inbound_dead_letters.name
    SWITCHBOARD_MAX_WEBHOOK_BYTES        = tostring(var.max_webhook_bytes)
    SWITCHBOARD_PUBLISH_TIMEOUT_SECONDS  = tostring(var.publish_timeout_seconds)
    META_APP_ID                          = var.meta_app_id
    SWITCHBOARD_LOG_LEVEL                = var.log_level
    META_GRAPH_BASE_URL                  = "https://graph.facebook.com"
    META_GRAPH_VERSION                   = var.meta_graph_version
    TELEGRAM_API_BASE_URL                = "https://api.telegram.org"
    TWILIO_API_BASE_URL                  = "https://api.twilio.com"
    SWITCHBOARD_PUBLIC_BASE_URL          = "https://${var.region}-${var.project_id}.cloudfunctions.net"
    SWITCHBOARD_DASHBOARD_URL            = "https://${var.hosting_site_id}.web.app"
    SWITCHBOARD_RATING_URL               = "https://${var.region}-${var.project_id}.cloudfunctions.net/rate"
    SWITCHBOARD_PROVIDER_TIMEOUT_SECONDS = "10"
    SWITCHBOARD_DELIVER_URL              = "https://deliver-${data.google_project.this.number}.${var.region}.run.app"
    SWITCHBOARD_TASKS_LOCATION           = var.region
    SWITCHBOARD_TASKS_SERVICE_ACCOUNT    = google_service_account.tasks_invoker.email
    SWITCHBOARD_QUEUE_PREFIX             = "outbound-"
    SWITCHBOARD_PUBSUB_ENDPOINT          = "https://${var.region}-pubsub.googleapis.com"
    SWITCHBOARD_STORE_RETRY_SECONDS      = "15"
    SWITCHBOARD_MEDIA_BUCKET             = google_storage_bucket.media.name
  }

  # Secret environment variables -> Secret Manager secret ids. Only references reach Terraform:
  # an operator adds the versions (values) with gcloud, see README.md.
  app_secrets = {
    META_APP_SECRET         = "meta-app-secret"
    META_VERIFY_TOKEN       = "meta-verify-token"
    TELEGRAM_WEBHOOK_SECRET = "telegram-webhook-secret"
    # Signs the satisfaction surveys' rating links (shared/csat.py): deliver makes them, rate reads them.
    SWITCHBOARD_CSAT_LINK_SECRET = "csat-link-secret"
  }

  # Added to functions whose trigger is a Pub/Sub push: functions-framework turns the push body into
  # a CloudEvent (main.py also registers them with @functions_framework.cloud_event).
  cloudevent_environment = {
    FUNCTION_SIGNATURE_TYPE = "cloudevent"
  }

  # Channel access tokens live in Secret Manager as channel-token-<channelId>, created by the admin
  # CLI or the channels page (agent_api) when a channel is connected; deliver reads them.
  channel_token_secret_prefix     = "channel-token-"
  twilio_auth_token_secret_prefix = "twilio-auth-token-"

  # Least privilege, per function. Webhooks (webhook_<channel>) get no project role at all: they
  # only publish to the inbound topic (pubsub.tf). Roles for functions not yet in topology.json
  # apply when they appear there.
  function_project_roles = {
    ingest       = ["roles/datastore.user"]
    send_message = ["roles/datastore.user"]
    agent_api    = ["roles/datastore.user"]
    # deliver also runs chat push jobs (queue push): it sends through FCM.
    deliver = ["roles/datastore.user", "roles/firebasecloudmessaging.admin"]
    # chat_api mints Firebase custom tokens (signBlob as itself); its posts queue their pushes.
    chat_api = ["roles/datastore.user", "roles/iam.serviceAccountTokenCreator"]
    # create_app sets the creator's custom claims (Firebase Auth admin).
    create_app = ["roles/datastore.user", "roles/firebaseauth.admin"]
    # rate records a customer's rating from the public rating page.
    rate = ["roles/datastore.user"]
  }

  # Functions that create Cloud Tasks -> the queues they enqueue onto (see the enqueuer resources).
  task_enqueuers = {
    send_message = keys(local.topology.queues)
    agent_api    = ["whatsapp", "timers", "jobs", "notify"]
    ingest       = ["telegram", "timers", "media", "notify"]
    # An export or retention run queues its own next step (shared/jobs.py); the auto-reply and the
    # satisfaction survey (shared/autoreply.py, shared/csat.py) queue their message's delivery on
    # its channel's queue.
    deliver = ["jobs", "messenger", "instagram", "whatsapp", "telegram", "twilio"]
    # A rating from the rating page queues the reports' fold (timers).
    rate = ["timers"]
    # A post queues its push job (push) and, in a hot channel, the fold of its summary (timers).
    chat_api = ["push", "timers"]
  }
  task_enqueuer_pairs = flatten([
    for function, queues in local.task_enqueuers : [for queue in queues : { function = function, queue = queue }]
  ])

  # Who may invoke a private function, by its trigger in topology.json (label -> member; the labels
  # are static so that for_each keys are known before the accounts exist).
  trigger_invokers = {
    pubsub_push = { pubsub_push = "serviceAccount:${google_service_account.pubsub_push.email}" }
    cloud_tasks = { tasks_invoker = "serviceAccount:${google_service_account.tasks_invoker.email}" }
    http        = {}
  }

  webhook_functions = { for key, fn in local.topology.functions : key => fn if startswith(key, "webhook_") }

  project_number       = data.google_project.this.number
  pubsub_service_agent = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  required_services = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "firebase.googleapis.com",
    "firebasehosting.googleapis.com",
    "firebaserules.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "identitytoolkit.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
}

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "required" {
  for_each = local.required_services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# --- function source: one zip of the repository, shared by every function -------------------------

data "archive_file" "source" {
  type             = "zip"
  source_dir       = "${path.module}/.."
  output_path      = "${path.module}/.build/switchboard-source.zip"
  output_file_mode = "0644" # the same bytes (and hash) whoever builds it
  # Glob patterns (archive provider >= 2.5). The zip holds main.py, functions/, shared/ and
  # requirements.txt: what every function deploys.
  excludes = [
    ".git/**",
    ".venv/**",
    ".venv-*/**",
    ".ci/**",
    ".local/**",
    ".pytest_cache/**",
    ".ruff_cache/**",
    "**/__pycache__/**",
    "**/node_modules/**",
    "bench/**",
    "infra/**",
    "scripts/**",
    "tests/**",
    "web/**",
  ]
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only build inputs (source zips) that Cloud Build reads; access is recorded by Cloud Audit Logs, a second access-log bucket adds nothing.
  name                        = "${var.project_id}-switchboard-source"
  project                     = var.project_id
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.required]
}

resource "google_storage_bucket_object" "source" {
  # The content hash in the name makes every code change redeploy every function.
  name   = "source/switchboard-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images are rebuilt from the source zip on every deploy and hold no customer data; Google-managed encryption is sufficient.
  project                = var.project_id
  location               = var.region
  repository_id          = "switchboard-functions"
  description            = "Container images that Cloud Build produces for Switchboard's functions."
  format                 = "DOCKER"
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.required]
}

# --- service accounts shared across functions ----------------------------------------------------

resource "google_service_account" "builder" {
  project      = var.project_id
  account_id   = "switchboard-builder"
  display_name = "Switchboard function builder"
  description  = "Cloud Build identity that turns the source zip into function images."
}

resource "google_project_iam_member" "builder_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.builder.email}"
}

resource "google_storage_bucket_iam_member" "builder_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.builder.email}"
}

resource "google_artifact_registry_repository_iam_member" "builder_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.builder.email}"
}

# Pub/Sub signs push requests to ingest with an OIDC token for this account.
resource "google_service_account" "pubsub_push" {
  project      = var.project_id
  account_id   = "switchboard-pubsub-push"
  display_name = "Switchboard Pub/Sub push"
  description  = "Identity of Pub/Sub push deliveries to private functions (ingest)."
}

# Cloud Tasks signs task requests to deliver with an OIDC token for this account.
resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "switchboard-tasks-invoker"
  display_name = "Switchboard Cloud Tasks invoker"
  description  = "Identity of Cloud Tasks dispatches to deliver (OIDC)."
}

# --- functions: one per entry of topology.json "functions" ---------------------------------------

module "functions" {
  source   = "./modules/function"
  for_each = local.topology.functions

  project_id  = var.project_id
  region      = var.region
  name        = local.function_names[each.key]
  entry_point = each.key
  description = "Switchboard ${each.key} (${each.value.trigger})"

  source_bucket            = google_storage_bucket.source.name
  source_object            = google_storage_bucket_object.source.name
  build_service_account_id = google_service_account.builder.id
  docker_repository        = google_artifact_registry_repository.functions.id

  available_memory                 = each.value.memory
  available_cpu                    = each.value.cpu
  max_instance_request_concurrency = each.value.concurrency
  min_instance_count               = coalesce(var.min_instance_count_override, each.value.min_instances)
  max_instance_count               = each.value.max_instances
  timeout_seconds                  = each.value.timeout_seconds

  environment_variables = merge(
    local.function_environment,
    { for name, value in local.cloudevent_environment : name => value if each.value.trigger == "pubsub_push" },
  )
  secret_environment_variables = { for env, _ in local.app_secrets : env => google_secret_manager_secret.app[env].secret_id }

  public = try(each.value.public, false)
  invoker_members = {
    for label, member in local.trigger_invokers[each.value.trigger] : label => member if !try(each.value.public, false)
  }
  project_roles = try(local.function_project_roles[each.key], [])
  labels        = local.labels

  depends_on = [
    google_project_service.required,
    google_project_iam_member.builder_log_writer,
    google_storage_bucket_iam_member.builder_source_reader,
    google_artifact_registry_repository_iam_member.builder_writer,
  ]
}

# --- Cloud Tasks queues: one per entry of topology.json "queues" ---------------------------------

module "queues" {
  source   = "./modules/queue"
  for_each = local.topology.queues

  project_id                 = var.project_id
  location                   = var.region
  name                       = each.value.name
  max_dispatches_per_second  = each.value.max_dispatches_per_second
  max_concurrent_dispatches  = each.value.max_concurrent_dispatches
  max_attempts               = each.value.max_attempts
  min_backoff_seconds        = each.value.min_backoff_seconds
  max_backoff_seconds        = each.value.max_backoff_seconds
  max_retry_duration_seconds = each.value.max_retry_duration_seconds
  logging_sampling_ratio     = var.tasks_logging_sampling_ratio

  depends_on = [google_project_service.required]
}

# Who may create Cloud Tasks, on which queues (keys of topology.json "queues"), naming the tasks
# invoker as the tasks' OIDC identity (actAs); nobody else may:
#   send_message  replies, on every channel's queue;
#   agent_api     WhatsApp read receipts (mark_read) and snooze wake-ups (the timers queue);
#   ingest        answers to Telegram button presses (shared/outbox.py answer_callback).
resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = {
    for pair in local.task_enqueuer_pairs : "${pair.function}/${pair.queue}" => pair
    if contains(keys(local.topology.functions), pair.function)
  }

  project  = var.project_id
  location = module.queues[each.value.queue].location
  name     = module.queues[each.value.queue].name
  role     = "roles/cloudtasks.enqueuer"
  member   = module.functions[each.value.function].service_account_member
}

resource "google_service_account_iam_member" "enqueuer_acts_as_tasks_invoker" {
  for_each = toset([for name in keys(local.task_enqueuers) : name if contains(keys(local.topology.functions), name)])

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = module.functions[each.key].service_account_member
}

# deliver reads channel access tokens, and only those (IAM condition on the secret name prefix).
resource "google_project_iam_member" "deliver_channel_tokens" {
  for_each = contains(keys(local.topology.functions), "deliver") ? toset(["deliver"]) : toset([])

  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = module.functions[each.key].service_account_member

  condition {
    title       = "channel-token-secrets-only"
    description = "Only Secret Manager secrets named ${local.channel_token_secret_prefix}<tenant>-<channel>."
    expression  = "resource.name.startsWith(\"projects/${local.project_number}/secrets/${local.channel_token_secret_prefix}\")"
  }
}

# webhook_twilio checks X-Twilio-Signature with the account's auth token, and reads only those.
resource "google_project_iam_member" "twilio_webhook_auth_tokens" {
  for_each = contains(keys(local.topology.functions), "webhook_twilio") ? toset(["webhook_twilio"]) : toset([])

  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = module.functions[each.key].service_account_member

  condition {
    title       = "twilio-auth-token-secrets-only"
    description = "Only Secret Manager secrets named ${local.twilio_auth_token_secret_prefix}<AccountSid>."
    expression  = "resource.name.startsWith(\"projects/${local.project_number}/secrets/${local.twilio_auth_token_secret_prefix}\")"
  }
}

# agent_api serves the admin console's channels page (shared/channel_console.py): it creates, adds
# versions to, reads (reconnect) and deletes channel tokens and Twilio accounts' auth tokens, and reads
# the Telegram master secret that derives each bot's secret token on connect. Nothing else.
resource "google_project_iam_member" "agent_api_channel_secrets" {
  for_each = contains(keys(local.topology.functions), "agent_api") ? toset(["agent_api"]) : toset([])

  project = var.project_id
  role    = "roles/secretmanager.admin"
  member  = module.functions[each.key].service_account_member

  condition {
    title       = "channel-secrets-only"
    description = "Only ${local.channel_token_secret_prefix}* and ${local.twilio_auth_token_secret_prefix}* secrets."
    expression  = "resource.name.startsWith(\"projects/${local.project_number}/secrets/${local.channel_token_secret_prefix}\") || resource.name.startsWith(\"projects/${local.project_number}/secrets/${local.twilio_auth_token_secret_prefix}\")"
  }
}

resource "google_project_iam_member" "agent_api_telegram_master" {
  for_each = contains(keys(local.topology.functions), "agent_api") ? toset(["agent_api"]) : toset([])

  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = module.functions[each.key].service_account_member

  condition {
    title       = "telegram-webhook-secret-only"
    description = "Only the Telegram master secret (each bot's secret token is derived from it)."
    expression  = "resource.name.startsWith(\"projects/${local.project_number}/secrets/telegram-webhook-secret\")"
  }
}

# --- monitoring ----------------------------------------------------------------------------------

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_email_addresses)

  project      = var.project_id
  display_name = "Switchboard ${var.environment} alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

module "monitoring" {
  source = "./modules/monitoring"

  project_id  = var.project_id
  environment = var.environment
  notification_channels = concat(
    var.notification_channel_ids,
    [for channel in google_monitoring_notification_channel.email : channel.name],
  )

  dead_letter_topic_ids           = [for key in local.dead_letter_topic_keys : local.topology.topics[key]]
  dead_letter_subscription_ids    = [for key, sub in local.topology.subscriptions : sub.name if contains(local.dead_letter_topic_keys, sub.topic)]
  dead_lettering_subscription_ids = [for key, sub in local.dead_lettering_subscriptions : sub.name]
  max_delivery_attempts_hint      = try(min([for key, sub in local.dead_lettering_subscriptions : sub.max_delivery_attempts]...), 5)

  function_service_names = [for key, fn in module.functions : fn.service_name]
  webhook_service_names  = [for key, _ in local.webhook_functions : module.functions[key].service_name]
  error_rate_threshold   = var.function_error_rate_threshold

  depends_on = [google_project_service.required]
}
