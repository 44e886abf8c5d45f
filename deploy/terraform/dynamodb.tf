# Checkpoints and shard leases, in the Kinesis Client Library's layout: one item
# per shard (and one per checkpoint) under the string hash key leaseKey.

resource "aws_dynamodb_table" "leases" {
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "leaseKey"

  attribute {
    name = "leaseKey"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  # Disabled: DynamoDB's AWS owned key; enabled: the customer managed key.
  server_side_encryption {
    enabled     = var.kms_key_arn != null
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
