variable "project_id" {
  description = "Project that holds the queue."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id."
  }
}

variable "location" {
  description = "Region of the queue."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.location))
    error_message = "location must be a Google Cloud region such as europe-west1."
  }
}

variable "name" {
  description = "Queue name, e.g. outbound-whatsapp."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,100}$", var.name))
    error_message = "name must be 1-100 letters, digits or hyphens."
  }
}

variable "max_dispatches_per_second" {
  description = "Dispatch rate ceiling; set to the provider's documented send limit (see DESIGN.md)."
  type        = number

  validation {
    condition     = var.max_dispatches_per_second > 0 && var.max_dispatches_per_second <= 500
    error_message = "max_dispatches_per_second must be in (0, 500] (the Cloud Tasks maximum)."
  }
}

variable "max_concurrent_dispatches" {
  description = "Tasks in flight at once."
  type        = number

  validation {
    condition     = var.max_concurrent_dispatches >= 1 && var.max_concurrent_dispatches <= 5000
    error_message = "max_concurrent_dispatches must be between 1 and 5000."
  }
}

variable "max_attempts" {
  description = "Attempts per task, the first included; -1 means unlimited (bounded by max_retry_duration_seconds)."
  type        = number

  validation {
    condition     = var.max_attempts == -1 || (var.max_attempts >= 1 && var.max_attempts <= 100)
    error_message = "max_attempts must be -1 or between 1 and 100."
  }
}

variable "min_backoff_seconds" {
  description = "Wait before the first retry."
  type        = number

  validation {
    condition     = var.min_backoff_seconds >= 0.1 && var.min_backoff_seconds <= 3600
    error_message = "min_backoff_seconds must be between 0.1 and 3600."
  }
}

variable "max_backoff_seconds" {
  description = "Longest wait between retries; must be at least min_backoff_seconds."
  type        = number

  validation {
    condition     = var.max_backoff_seconds >= 1 && var.max_backoff_seconds <= 3600
    error_message = "max_backoff_seconds must be between 1 and 3600."
  }
}

variable "max_doublings" {
  description = "How many times the backoff doubles before growing linearly."
  type        = number
  default     = 8

  validation {
    condition     = var.max_doublings >= 0 && var.max_doublings <= 16
    error_message = "max_doublings must be between 0 and 16."
  }
}

variable "max_retry_duration_seconds" {
  description = "Stop retrying a task this long after its first attempt (0 = no limit besides max_attempts)."
  type        = number

  validation {
    condition     = var.max_retry_duration_seconds >= 0 && var.max_retry_duration_seconds <= 2592000
    error_message = "max_retry_duration_seconds must be between 0 and 30 days."
  }
}

variable "logging_sampling_ratio" {
  description = "Fraction of dispatch attempts logged to Cloud Logging."
  type        = number
  default     = 1.0

  validation {
    condition     = var.logging_sampling_ratio >= 0 && var.logging_sampling_ratio <= 1
    error_message = "logging_sampling_ratio must be between 0 and 1."
  }
}
