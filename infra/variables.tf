variable "project_id" {
  description = "Google Cloud project that holds one Switchboard environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the functions, Cloud Tasks queues, source bucket and image repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "environment" {
  description = "Name of the environment; labels every resource and names alert policies."
  type        = string

  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment must be staging or prod."
  }
}

variable "firestore_location" {
  description = "Location of the (default) Firestore database: a multi-region (eur3, nam5) or a region. Cannot change after creation."
  type        = string

  validation {
    condition     = can(regex("^(eur3|nam5|nam7|[a-z]+-[a-z]+[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be eur3, nam5, nam7 or a region such as europe-west1."
  }
}

variable "hosting_site_id" {
  description = "Firebase Hosting site id of the agent dashboard; the site is served at https://<id>.web.app."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{4,61}[a-z0-9]$", var.hosting_site_id))
    error_message = "hosting_site_id must be 6-63 lowercase letters, digits or hyphens."
  }
}

variable "authorized_domains" {
  description = "Extra domains (besides the project's firebaseapp.com and the hosting site's domains) allowed to sign agents in."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for domain in var.authorized_domains : can(regex("^[a-z0-9.-]+$", domain))])
    error_message = "authorized_domains must be bare host names, without scheme or path."
  }
}

variable "meta_app_id" {
  description = "Our Meta app id (not a secret): echoes carrying it are our own sends. Empty until the app exists."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[0-9]*$", var.meta_app_id))
    error_message = "meta_app_id must be the numeric Meta app id, or empty."
  }
}

variable "meta_graph_version" {
  description = "Graph API version used for Messenger, Instagram and WhatsApp sends (META_GRAPH_VERSION)."
  type        = string
  default     = "v21.0"

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+$", var.meta_graph_version))
    error_message = "meta_graph_version looks like v21.0."
  }
}

variable "log_level" {
  description = "Python logging level of every function (SWITCHBOARD_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "max_webhook_bytes" {
  description = "Webhook bodies larger than this are refused (SWITCHBOARD_MAX_WEBHOOK_BYTES)."
  type        = number
  default     = 1000000

  validation {
    condition     = var.max_webhook_bytes >= 65536 && var.max_webhook_bytes <= 10000000
    error_message = "max_webhook_bytes must be between 64 KiB and 10 MB."
  }
}

variable "publish_timeout_seconds" {
  description = "How long a webhook waits for Pub/Sub to confirm a publish (SWITCHBOARD_PUBLISH_TIMEOUT_SECONDS)."
  type        = number
  default     = 10

  validation {
    # Meta expects an answer within 20 s and Twilio times out at 15 s: leave room to answer 5xx.
    condition     = var.publish_timeout_seconds > 0 && var.publish_timeout_seconds <= 12
    error_message = "publish_timeout_seconds must be in (0, 12]: Twilio gives up after 15 s."
  }
}

variable "min_instance_count_override" {
  description = "When set, replaces every function's min_instances from topology.json (0 lets staging scale to zero)."
  type        = number
  default     = null
  nullable    = true

  validation {
    condition     = var.min_instance_count_override == null || try(var.min_instance_count_override >= 0, false)
    error_message = "min_instance_count_override must be null or a non-negative number."
  }
}

variable "tasks_logging_sampling_ratio" {
  description = "Fraction of Cloud Tasks dispatch attempts written to Cloud Logging (0.0-1.0)."
  type        = number
  default     = 1.0

  validation {
    condition     = var.tasks_logging_sampling_ratio >= 0 && var.tasks_logging_sampling_ratio <= 1
    error_message = "tasks_logging_sampling_ratio must be between 0 and 1."
  }
}

variable "channel_token_channel_ids" {
  description = "Channel ids whose access-token secret (channel-token-<tenant>-<channel>) Terraform should create; the admin CLI creates the others. Values are never set here."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.channel_token_channel_ids : can(regex("^[A-Za-z0-9_-]{1,200}$", id))])
    error_message = "channel ids must be letters, digits, '_' or '-' (Secret Manager secret id rules)."
  }
}

variable "notification_channel_ids" {
  description = "Existing Cloud Monitoring notification channels (projects/<p>/notificationChannels/<id>) that every alert notifies."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.notification_channel_ids : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", id))])
    error_message = "notification_channel_ids must be full resource names: projects/<project>/notificationChannels/<id>."
  }
}

variable "alert_email_addresses" {
  description = "Email addresses to create notification channels for; every alert notifies them."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.alert_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "alert_email_addresses must be email addresses."
  }
}

variable "function_error_rate_threshold" {
  description = "Alert when the share of a function's requests answered 5xx exceeds this over 5 minutes."
  type        = number
  default     = 0.05

  validation {
    condition     = var.function_error_rate_threshold > 0 && var.function_error_rate_threshold < 1
    error_message = "function_error_rate_threshold must be a fraction between 0 and 1."
  }
}

variable "labels" {
  description = "Extra labels for every resource (app and environment are always set)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key, value in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", key)) && can(regex("^[a-z0-9_-]{0,63}$", value))])
    error_message = "label keys and values must be lowercase letters, digits, '_' or '-' (keys start with a letter)."
  }
}

variable "media_retention_days" {
  description = "Days a media object (inbound media, thumbnails, uploads) is kept before the bucket's lifecycle rule deletes it."
  type        = number
  default     = 365

  validation {
    condition     = var.media_retention_days >= 1 && floor(var.media_retention_days) == var.media_retention_days
    error_message = "media_retention_days must be a whole number of days, at least 1."
  }
}

variable "unsent_upload_days" {
  description = "Days an upload (uploads/, an agent's or app user's file before it is sent) is kept; sending copies it to the message, so this only expires files nobody sent (shared/media/uploads.py UNSENT_UPLOAD_AGE)."
  type        = number
  default     = 1

  validation {
    condition     = var.unsent_upload_days >= 1 && floor(var.unsent_upload_days) == var.unsent_upload_days
    error_message = "unsent_upload_days must be a whole number of days, at least 1."
  }
}

variable "media_cors_origins" {
  description = "Origins besides the Hosting site's own that may upload to and read from the media bucket through signed URLs (a custom dashboard domain)."
  type        = list(string)
  default     = []
}

variable "retention_schedule" {
  description = "When the daily retention sweep runs (cron, UTC): it deletes messages and media older than each tenant's settings.retentionDays (infra/retention.tf, shared/retention.py)."
  type        = string
  default     = "17 3 * * *"
}

variable "web_push_vapid_key" {
  description = "The Firebase project's web push certificate (VAPID public key: Firebase console > Project settings > Cloud Messaging > Web configuration). Served to the dashboard in /config.json (public by design) so agents' browsers get FCM tokens for background notifications (shared/notifications.py); empty: no web push, in-app notifications only."
  type        = string
  default     = ""
}
