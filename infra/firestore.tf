# Firestore (native mode, the (default) database), its security rules, indexes and TTL policies.

locals {
  # Same format as the Firebase CLI's firestore.indexes.json, so the file also works with
  # `firebase deploy --only firestore:indexes` and the emulator tooling.
  firestore_indexes = jsondecode(file("${path.module}/firestore.indexes.json"))

  composite_indexes = {
    for index in local.firestore_indexes.indexes :
    join("|", concat(
      [index.collectionGroup, index.queryScope],
      [for field in index.fields : "${field.fieldPath}:${try(field.order, field.arrayConfig)}"],
    )) => index
  }

  field_overrides = {
    for override in local.firestore_indexes.fieldOverrides :
    "${override.collectionGroup}.${override.fieldPath}" => override
  }
}

resource "google_firestore_database" "default" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.required]
}

resource "google_firebaserules_ruleset" "firestore" {
  project = var.project_id

  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/firestore.rules")
    }
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [google_firestore_database.default]
}

resource "google_firebaserules_release" "firestore" {
  project      = var.project_id
  name         = "cloud.firestore"
  ruleset_name = "projects/${var.project_id}/rulesets/${google_firebaserules_ruleset.firestore.name}"

  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore]
  }
}

resource "google_firestore_index" "composite" {
  for_each = local.composite_indexes

  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = each.value.collectionGroup
  query_scope = each.value.queryScope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.fieldPath
      order        = try(fields.value.order, null)
      array_config = try(fields.value.arrayConfig, null)
    }
  }
}

# Single-field overrides: exempt large or never-queried fields from indexing (write cost and the
# ~500 writes/s ceiling on sequentially indexed fields), and TTL policies on expireAt.
resource "google_firestore_field" "override" {
  for_each = local.field_overrides

  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = each.value.collectionGroup
  field      = each.value.fieldPath

  # An empty index_config disables every single-field index on the field.
  index_config {
    dynamic "indexes" {
      for_each = try(each.value.indexes, [])
      content {
        query_scope  = try(indexes.value.queryScope, null)
        order        = try(indexes.value.order, null)
        array_config = try(indexes.value.arrayConfig, null)
      }
    }
  }

  dynamic "ttl_config" {
    for_each = try(each.value.ttl, false) ? [true] : []
    content {}
  }
}
