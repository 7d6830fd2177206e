# Secret Manager: the containers only. Values never pass through Terraform or its state; an operator
# adds versions with `gcloud secrets versions add` (see README.md).

resource "google_secret_manager_secret" "app" {
  for_each = local.app_secrets

  project   = var.project_id
  secret_id = each.value
  labels    = { env_var = lower(each.key) }

  replication {
    auto {}
  }

  depends_on = [google_project_service.required]
}

# Channel access tokens follow the pattern channel-token-<channelId>. The admin CLI creates them
# when a channel is connected; channels listed here get their container from Terraform instead.
resource "google_secret_manager_secret" "channel_token" {
  for_each = var.channel_token_channel_ids

  project   = var.project_id
  secret_id = "${local.channel_token_secret_prefix}${each.value}"
  labels    = { kind = "channel-token" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.required]
}
