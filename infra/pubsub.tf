# Pub/Sub: topics and subscriptions exactly as topology.json declares them.
#
# ingest is fed by an explicit PUSH subscription (not an Eventarc trigger) so that ordering, ack
# deadline, retry backoff and dead-lettering are ours to set, and identical to the local stack.

locals {
  # Subscriptions that dead-letter, and the topics they dead-letter to.
  dead_lettering_subscriptions = {
    for key, sub in local.topology.subscriptions : key => sub if try(sub.dead_letter_topic, null) != null
  }
  dead_letter_topic_keys = toset([for key, sub in local.dead_lettering_subscriptions : sub.dead_letter_topic])
}

resource "google_pubsub_topic" "this" {
  #checkov:skip=CKV_GCP_83:Events are encrypted at rest with Google-managed keys, like the Firestore data they become; customer-managed keys are not a requirement of this project.
  for_each = local.topology.topics

  project = var.project_id
  name    = each.value

  # Keep a week of messages on every topic so that an operator can seek a subscription back
  # after a bad deploy and replay.
  message_retention_duration = "604800s"

  depends_on = [google_project_service.required]
}

resource "google_pubsub_subscription" "this" {
  for_each = local.topology.subscriptions

  project = var.project_id
  name    = each.value.name
  topic   = google_pubsub_topic.this[each.value.topic].id

  ack_deadline_seconds       = each.value.ack_deadline_seconds
  enable_message_ordering    = try(each.value.enable_message_ordering, false)
  message_retention_duration = "${try(each.value.message_retention_days, 7) * 86400}s"
  retain_acked_messages      = false

  # Never expire for inactivity: the dead-letter review subscription may sit idle for months.
  expiration_policy {
    ttl = ""
  }

  # Explicit, never the default: Pub/Sub redelivers a nacked or failed push after this backoff.
  retry_policy {
    minimum_backoff = "${try(each.value.minimum_backoff_seconds, 10)}s"
    maximum_backoff = "${try(each.value.maximum_backoff_seconds, 600)}s"
  }

  dynamic "dead_letter_policy" {
    for_each = try(each.value.dead_letter_topic, null) == null ? [] : [each.value]
    content {
      dead_letter_topic     = google_pubsub_topic.this[dead_letter_policy.value.dead_letter_topic].id
      max_delivery_attempts = dead_letter_policy.value.max_delivery_attempts
    }
  }

  dynamic "push_config" {
    for_each = try(each.value.push_function, null) == null ? [] : [each.value]
    content {
      # functions-framework reads the topic of a CloudEvent from the push URL's path.
      push_endpoint = "${module.functions[push_config.value.push_function].uri}/projects/${var.project_id}/topics/${local.topology.topics[push_config.value.topic]}"

      oidc_token {
        service_account_email = google_service_account.pubsub_push.email
        audience              = module.functions[push_config.value.push_function].uri
      }
    }
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_service_account_iam_member.pubsub_push_token_creator,
  ]
}

# Webhooks publish to the inbound topic; that is the only permission they hold.
resource "google_pubsub_topic_iam_member" "webhook_publisher" {
  for_each = local.webhook_functions

  project = var.project_id
  topic   = google_pubsub_topic.this["inbound_events"].name
  role    = "roles/pubsub.publisher"
  member  = module.functions[each.key].service_account_member
}

# Dead-lettering is done by the Pub/Sub service agent: it must publish to the dead-letter topic and
# subscribe to (acknowledge on) the source subscription, or messages are never forwarded.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_topic_keys

  project = var.project_id
  topic   = google_pubsub_topic.this[each.value].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${local.pubsub_service_agent}"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.dead_lettering_subscriptions

  project      = var.project_id
  subscription = google_pubsub_subscription.this[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${local.pubsub_service_agent}"
}

# The Pub/Sub service agent mints the push OIDC tokens for the push identity.
resource "google_service_account_iam_member" "pubsub_push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.pubsub_service_agent}"

  depends_on = [google_project_service.required]
}

# The admin console's operations page (agent_api, shared/operations/) replays quarantined items and
# dead letters: it publishes to the inbound topic and pulls/acknowledges the dead-letter review
# subscription, as the operator CLI does.
resource "google_pubsub_topic_iam_member" "operations_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.this["inbound_events"].name
  role    = "roles/pubsub.publisher"
  member  = module.functions["agent_api"].service_account_member
}

resource "google_pubsub_subscription_iam_member" "operations_dead_letter_reader" {
  project      = var.project_id
  subscription = google_pubsub_subscription.this["inbound_dead_letters"].name
  role         = "roles/pubsub.subscriber"
  member       = module.functions["agent_api"].service_account_member
}
