variable "project_id" {
  description = "Project whose metrics are watched and that holds the alert policies."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id."
  }
}

variable "environment" {
  description = "Environment name, shown in every alert's title."
  type        = string

  validation {
    condition     = length(var.environment) > 0
    error_message = "environment must not be empty."
  }
}

variable "notification_channels" {
  description = "Notification channel resource names (projects/<p>/notificationChannels/<id>) every alert notifies."
  type        = list(string)
  default     = []
}

variable "dead_letter_topic_ids" {
  description = "Topic ids (short names) that receive dead letters."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.dead_letter_topic_ids : can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", id))])
    error_message = "dead_letter_topic_ids must be Pub/Sub topic ids (not full resource names)."
  }
}

variable "dead_letter_subscription_ids" {
  description = "Subscription ids (short names) on dead-letter topics that operators review and replay from."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.dead_letter_subscription_ids : can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", id))])
    error_message = "dead_letter_subscription_ids must be Pub/Sub subscription ids (not full resource names)."
  }
}

variable "dead_lettering_subscription_ids" {
  description = "Subscription ids (short names) that have a dead-letter policy."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.dead_lettering_subscription_ids : can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", id))])
    error_message = "dead_lettering_subscription_ids must be Pub/Sub subscription ids (not full resource names)."
  }
}

variable "max_delivery_attempts_hint" {
  description = "Delivery attempts before dead-lettering, quoted in the alert's documentation."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts_hint >= 5 && var.max_delivery_attempts_hint <= 100
    error_message = "Pub/Sub allows 5 to 100 delivery attempts."
  }
}

variable "function_service_names" {
  description = "Cloud Run service names of every function (a 2nd-gen function's service has the function's name)."
  type        = list(string)
  default     = []
}

variable "webhook_service_names" {
  description = "Cloud Run service names of the provider webhook functions."
  type        = list(string)
  default     = []
}

variable "error_rate_threshold" {
  description = "Alert when the share of a function's requests answered 5xx exceeds this over 5 minutes."
  type        = number
  default     = 0.05

  validation {
    condition     = var.error_rate_threshold > 0 && var.error_rate_threshold < 1
    error_message = "error_rate_threshold must be a fraction between 0 and 1."
  }
}

variable "webhook_5xx_threshold" {
  description = "Alert when a webhook answers more 5xx than this in 5 minutes (0: any 5xx alerts)."
  type        = number
  default     = 0

  validation {
    condition     = var.webhook_5xx_threshold >= 0
    error_message = "webhook_5xx_threshold must not be negative."
  }
}

variable "metric_prefix" {
  description = "Prefix of the log-based metric names (logging.googleapis.com/user/<prefix>/<event>)."
  type        = string
  default     = "switchboard"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]*$", var.metric_prefix))
    error_message = "metric_prefix must be lowercase letters, digits, '_' or '-'."
  }
}

variable "log_events" {
  description = "Log-based metrics to create, keyed by metric suffix: the value of jsonPayload.event to count, and the jsonPayload field to keep as a label (low cardinality: a channel kind, never a tenant or user id)."
  type = map(object({
    event       = string
    label       = string
    description = string
  }))
  default = {
    channel_unhealthy = {
      event       = "channel_unhealthy"
      label       = "channel"
      description = "A channel reported itself unhealthy (token expired or revoked, subscription removed, provider errors)."
    }
    quarantined = {
      event       = "quarantined"
      label       = "channel"
      description = "An inbound item could not be parsed or routed and was kept raw in quarantine for replay."
    }
  }

  validation {
    condition = alltrue([
      for key, metric in var.log_events :
      can(regex("^[a-z][a-z0-9_]*$", key)) && can(regex("^[a-z][a-z0-9_]*$", metric.event)) && can(regex("^[A-Za-z][A-Za-z0-9_]*$", metric.label))
    ])
    error_message = "log_events keys, events and labels must be simple identifiers."
  }
}
