# Agents sign in to the dashboard with email and password (Identity Platform); the dashboard is a
# static Vue app served by Firebase Hosting.

resource "google_firebase_project" "this" {
  provider = google-beta
  project  = var.project_id

  depends_on = [google_project_service.required]
}

resource "google_identity_platform_config" "this" {
  project = var.project_id

  autodelete_anonymous_users = true

  sign_in {
    allow_duplicate_emails = false

    email {
      enabled           = true
      password_required = true
    }

    anonymous {
      enabled = false
    }

    phone_number {
      enabled = false
    }
  }

  authorized_domains = concat(
    [
      "${var.project_id}.firebaseapp.com",
      "${var.hosting_site_id}.web.app",
      "${var.hosting_site_id}.firebaseapp.com",
    ],
    var.authorized_domains,
  )

  depends_on = [google_project_service.required, google_firebase_project.this]
}

resource "google_firebase_web_app" "dashboard" {
  provider     = google-beta
  project      = var.project_id
  display_name = "Switchboard dashboard (${var.environment})"

  deletion_policy = "ABANDON"

  depends_on = [google_firebase_project.this]
}

resource "google_firebase_hosting_site" "dashboard" {
  provider = google-beta
  project  = var.project_id
  site_id  = var.hosting_site_id
  app_id   = google_firebase_web_app.dashboard.app_id

  depends_on = [google_project_service.required]
}

# The dashboard's Firebase web configuration (its API key identifies the project to Firebase Auth;
# public by design, every browser that opens the dashboard reads it). scripts/deploy.py writes it
# into the Hosting site's /config.json.
data "google_firebase_web_app_config" "dashboard" {
  provider   = google-beta
  project    = var.project_id
  web_app_id = google_firebase_web_app.dashboard.app_id
}
