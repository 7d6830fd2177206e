# Media: customers' photos, voice notes and files, and agents' and app users' uploads, in one bucket
# (tenants/{t}/conversations/..., tenants/{app}/channels/... for what messages carry; uploads not
# sent yet at uploads/{t}/..., one top-level prefix so a lifecycle rule can expire them; sending
# copies an upload to its message's path; shared/media/).
#
# Nobody reads or writes it directly: uniform bucket-level access, public access prevented, no
# user or allUsers binding. Functions that checked the caller hand out V4 signed URLs for one object
# (5 minutes to download, 15 to start an upload), signed by the function's own runtime service
# account through IAM signBlob: each signer holds roles/iam.serviceAccountTokenCreator on itself only.

locals {
  # Function -> its role on the media bucket (and nothing else of Cloud Storage):
  # deliver stores inbound media and reads agents' uploads to send them; agent_api and chat_api
  # sign download and upload URLs (a signed URL acts with its signer's permissions) and check
  # uploads (chat_api also copies a posted upload to its post); send_message reads an upload's
  # bytes to sniff it before queueing and copies it to the message (with its thumbnail or poster).
  media_bucket_roles = {
    deliver      = "roles/storage.objectUser"
    agent_api    = "roles/storage.objectUser"
    chat_api     = "roles/storage.objectUser"
    send_message = "roles/storage.objectUser"
  }
  # Functions that sign media URLs, as themselves.
  media_url_signers = ["agent_api", "chat_api", "deliver"]

  media_cors_origins = concat(
    ["https://${var.hosting_site_id}.web.app", "https://${var.hosting_site_id}.firebaseapp.com"],
    var.media_cors_origins,
  )
}

resource "google_storage_bucket" "media" {
  #checkov:skip=CKV_GCP_62:Every read and write goes through a signed URL a function issued after checking the caller, and Cloud Audit Logs (data access) record object access; a second access-log bucket adds nothing.
  name                        = "${var.project_id}-media"
  project                     = var.project_id
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # A retried fetch rewrites the same bytes; versions let an operator undo a mistaken overwrite for a week.
  versioning {
    enabled = true
  }

  # Retention: media (and thumbnails, and uploads) older than media_retention_days are deleted; the
  # message keeps its metadata and the dashboard shows the file as gone.
  lifecycle_rule {
    condition {
      age = var.media_retention_days
    }
    action {
      type = "Delete"
    }
  }

  # Uploads never sent: everything under uploads/ goes unsent_upload_days after it was uploaded (a
  # sent upload was copied to its message's path when it was sent, so no sent file is lost);
  # shared/media/uploads.py's sweep does the same where there is no lifecycle (the emulator).
  lifecycle_rule {
    condition {
      age            = var.unsent_upload_days
      matches_prefix = ["uploads/"]
    }
    action {
      type = "Delete"
    }
  }

  # Exports (shared/exports.py, shared/contact_data.py: exports/{t}/{id}/...) are downloadable for a
  # day; their objects go then, and the noncurrent versions with them (rule below).
  lifecycle_rule {
    condition {
      age            = 1
      matches_prefix = ["exports/"]
    }
    action {
      type = "Delete"
    }
  }

  # ... and their noncurrent versions (versioning keeps one) do not wait the 7 days below.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      matches_prefix             = ["uploads/", "exports/"]
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # The dashboard's browsers upload straight to the bucket (signed resumable upload) and show media
  # through signed URLs: its origin only.
  cors {
    origin          = local.media_cors_origins
    method          = ["GET", "HEAD", "PUT", "POST"]
    response_header = ["Content-Type", "Content-Range", "Content-Length", "Location", "Range", "x-goog-resumable", "x-goog-content-length-range"]
    max_age_seconds = 3600
  }

  depends_on = [google_project_service.required]
}

resource "google_storage_bucket_iam_member" "media" {
  for_each = { for name, role in local.media_bucket_roles : name => role if contains(keys(local.topology.functions), name) }

  bucket = google_storage_bucket.media.name
  role   = each.value
  member = module.functions[each.key].service_account_member
}

resource "google_service_account_iam_member" "media_url_signer_self" {
  for_each = toset([for name in local.media_url_signers : name if contains(keys(local.topology.functions), name)])

  service_account_id = "projects/${var.project_id}/serviceAccounts/${module.functions[each.key].service_account_email}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = module.functions[each.key].service_account_member
}
