# One Cloud Tasks queue of outbound messages for one channel, throttled to the provider's rate
# limit, retrying with explicit backoff (Cloud Tasks redelivers; deliver is idempotent via named
# tasks and deterministic message ids).

resource "google_cloud_tasks_queue" "this" {
  project  = var.project_id
  location = var.location
  name     = var.name

  rate_limits {
    max_dispatches_per_second = var.max_dispatches_per_second
    max_concurrent_dispatches = var.max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = var.max_attempts
    min_backoff        = "${var.min_backoff_seconds}s"
    max_backoff        = "${var.max_backoff_seconds}s"
    max_doublings      = var.max_doublings
    max_retry_duration = "${var.max_retry_duration_seconds}s"
  }

  stackdriver_logging_config {
    sampling_ratio = var.logging_sampling_ratio
  }

  lifecycle {
    precondition {
      condition     = var.max_backoff_seconds >= var.min_backoff_seconds
      error_message = "Queue ${var.name}: max_backoff_seconds must be at least min_backoff_seconds."
    }
  }
}
