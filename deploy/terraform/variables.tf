variable "name" {
  type        = string
  description = "Name of the Kinesis data stream; also the prefix of the worker's IAM policy name."

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,128}$", var.name))
    error_message = "The stream name is 1 to 128 characters of a-z, A-Z, 0-9, _ . and -."
  }
}

variable "stream_mode" {
  type        = string
  description = "PROVISIONED (shard_count shards, sized by `shardflow plan`) or ON_DEMAND (Kinesis scales; shard_count is ignored)."
  default     = "PROVISIONED"

  validation {
    condition     = contains(["PROVISIONED", "ON_DEMAND"], var.stream_mode)
    error_message = "The stream_mode is PROVISIONED or ON_DEMAND."
  }
}

variable "shard_count" {
  type        = number
  description = "Open shards in PROVISIONED mode: recommended_shards from `shardflow plan --format tfvars`. Not sent in ON_DEMAND mode."
  default     = 1

  validation {
    condition     = var.shard_count >= 1 && floor(var.shard_count) == var.shard_count
    error_message = "The shard_count is a whole number >= 1."
  }
}

variable "retention_hours" {
  type        = number
  description = "Hours a record stays readable: 24 (included) to 8760. Beyond 24 h Kinesis bills extended retention, beyond 168 h long-term retention per GB-month."
  default     = 24

  validation {
    condition     = var.retention_hours >= 24 && var.retention_hours <= 8760 && floor(var.retention_hours) == var.retention_hours
    error_message = "The retention_hours is a whole number from 24 to 8760."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of a customer managed KMS key that encrypts the stream, the lease table and the bucket; null uses the AWS managed keys (alias/aws/kinesis, DynamoDB's and S3's own)."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "The kms_key_arn is null or a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "enhanced_fan_out" {
  type        = bool
  description = "Register an enhanced fan-out consumer (a dedicated 2 MB/s per shard) named consumer_name and let the worker subscribe to it: `shardflow plan --efo`."
  default     = false
}

variable "consumer_name" {
  type        = string
  description = "Name of the enhanced fan-out consumer, used when enhanced_fan_out is true: the worker reads kinesis://STREAM?consumer=NAME."
  default     = "shardflow"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,128}$", var.consumer_name))
    error_message = "The consumer_name is 1 to 128 characters of a-z, A-Z, 0-9, _ . and -."
  }
}

variable "checkpoint_table_name" {
  type        = string
  description = "Name of the DynamoDB table for checkpoints and shard leases (hash key leaseKey, the KCL layout); null: NAME-shardflow-leases."
  default     = null

  validation {
    condition     = var.checkpoint_table_name == null || can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.checkpoint_table_name))
    error_message = "The checkpoint_table_name is null or 3 to 255 characters of a-z, A-Z, 0-9, _ . and -."
  }
}

variable "output_bucket_name" {
  type        = string
  description = "Name of the S3 bucket the job writes its output to (globally unique)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.output_bucket_name))
    error_message = "The output_bucket_name is 3 to 63 characters of a-z, 0-9, . and -, starting and ending with a letter or digit."
  }
}

variable "output_prefix" {
  type        = string
  description = "Key prefix in the bucket that the worker may read and write: empty for the whole bucket, or ending in /."
  default     = "shardflow/"

  validation {
    condition     = var.output_prefix == "" || can(regex("^[^/].*/$", var.output_prefix))
    error_message = "The output_prefix is empty or ends with / (and does not start with /)."
  }
}

variable "worker_role_name" {
  type        = string
  description = "Name of an existing IAM role (an EKS service account's IRSA role, an ECS task role) to attach the worker policy to; null: attach it yourself from the worker_policy_arn output."
  default     = null

  validation {
    condition     = var.worker_role_name == null || can(regex("^[a-zA-Z0-9+=,.@_-]{1,64}$", var.worker_role_name))
    error_message = "The worker_role_name is null or an IAM role name (1 to 64 characters)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource that takes tags."
  default     = {}
}
