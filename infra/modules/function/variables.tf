variable "project_id" {
  description = "Project that holds the function and its service account."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id."
  }
}

variable "region" {
  description = "Region the function runs in."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "name" {
  description = "Function name (also its Cloud Run service name and, prefixed with fn-, its service account id)."
  type        = string

  validation {
    # fn-<name> is the service account id: 6-30 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{2,26}$", var.name))
    error_message = "name must be 3-27 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "entry_point" {
  description = "functions-framework target exported by main.py that this function runs."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.entry_point))
    error_message = "entry_point must be a Python identifier."
  }
}

variable "description" {
  description = "Human-readable description of the function."
  type        = string
  default     = ""
}

variable "runtime" {
  description = "Cloud Functions runtime."
  type        = string
  default     = "python311"

  validation {
    condition     = can(regex("^python3[0-9]+$", var.runtime))
    error_message = "runtime must be a Python runtime such as python311."
  }
}

variable "source_bucket" {
  description = "Bucket holding the source zip."
  type        = string
}

variable "source_object" {
  description = "Object name of the source zip in source_bucket."
  type        = string

  validation {
    condition     = endswith(var.source_object, ".zip")
    error_message = "source_object must be a .zip archive."
  }
}

variable "build_service_account_id" {
  description = "Full resource name (projects/<p>/serviceAccounts/<email>) of the account Cloud Build uses."
  type        = string

  validation {
    condition     = can(regex("^projects/[^/]+/serviceAccounts/[^/]+$", var.build_service_account_id))
    error_message = "build_service_account_id must be projects/<project>/serviceAccounts/<email>."
  }
}

variable "docker_repository" {
  description = "Artifact Registry repository (projects/<p>/locations/<l>/repositories/<r>) for the built image; null for the default."
  type        = string
  default     = null
}

variable "available_memory" {
  description = "Memory of one instance, e.g. 256Mi or 1Gi."
  type        = string
  default     = "256Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi|M|G)$", var.available_memory))
    error_message = "available_memory must look like 256Mi, 512M or 1Gi."
  }
}

variable "available_cpu" {
  description = "vCPUs of one instance, e.g. 0.167, 1 or 2."
  type        = string
  default     = "0.167"

  validation {
    condition     = can(tonumber(var.available_cpu)) && try(tonumber(var.available_cpu) > 0 && tonumber(var.available_cpu) <= 8, false)
    error_message = "available_cpu must be a number of vCPUs in (0, 8]."
  }
}

variable "max_instance_request_concurrency" {
  description = "Requests one instance serves at once (more than 1 needs at least 1 vCPU)."
  type        = number
  default     = 1

  validation {
    condition     = var.max_instance_request_concurrency >= 1 && var.max_instance_request_concurrency <= 1000
    error_message = "max_instance_request_concurrency must be between 1 and 1000."
  }
}

variable "min_instance_count" {
  description = "Instances kept warm (0 scales to zero)."
  type        = number
  default     = 0

  validation {
    condition     = var.min_instance_count >= 0 && var.min_instance_count <= 100
    error_message = "min_instance_count must be between 0 and 100."
  }
}

variable "max_instance_count" {
  description = "Upper bound of instances."
  type        = number
  default     = 10

  validation {
    condition     = var.max_instance_count >= 1 && var.max_instance_count <= 1000
    error_message = "max_instance_count must be between 1 and 1000."
  }
}

variable "timeout_seconds" {
  description = "Request timeout."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 3600
    error_message = "timeout_seconds must be between 1 and 3600."
  }
}

variable "environment_variables" {
  description = "Plain environment variables. Secrets never go here: use secret_environment_variables."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key, _ in var.environment_variables : can(regex("^[A-Z][A-Z0-9_]*$", key))])
    error_message = "environment variable names must be UPPER_SNAKE_CASE."
  }
}

variable "secret_environment_variables" {
  description = "Environment variable name -> Secret Manager secret id (in project_id); the latest version is mounted and the runtime account gets secretAccessor on that secret only."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key, secret in var.secret_environment_variables : can(regex("^[A-Z][A-Z0-9_]*$", key)) && can(regex("^[A-Za-z0-9_-]{1,255}$", secret))])
    error_message = "keys must be UPPER_SNAKE_CASE variable names and values Secret Manager secret ids (not values, not resource names)."
  }
}

variable "public" {
  description = "Whether anyone on the internet may invoke the function (allUsers run.invoker, ALLOW_ALL ingress). Only provider webhooks are public."
  type        = bool
  default     = false
}

variable "invoker_members" {
  description = "Label -> IAM member (serviceAccount:...) allowed to invoke a private function. Labels are static so that for_each keys are known at plan time."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for label, member in var.invoker_members : startswith(member, "serviceAccount:")])
    error_message = "invoker_members must be service accounts; public access is the public flag, never allUsers here."
  }
}

variable "project_roles" {
  description = "Project-level roles of the runtime service account (least privilege: only what the function's code uses)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for role in var.project_roles : startswith(role, "roles/") && !contains(["roles/owner", "roles/editor"], role)])
    error_message = "project_roles must be predefined roles (roles/...), never owner or editor."
  }
}

variable "labels" {
  description = "Labels of the function."
  type        = map(string)
  default     = {}
}
