# The Kinesis stream a shardflow job reads, and its optional enhanced fan-out consumer.

locals {
  # null: the AWS managed key for Kinesis.
  stream_kms_key = var.kms_key_arn == null ? "alias/aws/kinesis" : var.kms_key_arn
  table_name     = var.checkpoint_table_name == null ? "${var.name}-shardflow-leases" : var.checkpoint_table_name
  consumer_arns  = "${aws_kinesis_stream.this.arn}/consumer/${var.consumer_name}:*"
}

resource "aws_kinesis_stream" "this" {
  name = var.name
  # ON_DEMAND streams take no shard count: Kinesis refuses one.
  shard_count      = var.stream_mode == "ON_DEMAND" ? null : var.shard_count
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = local.stream_kms_key

  # The worker registers its fan-out consumer itself when it is not there;
  # destroying the stream deregisters any consumer.
  enforce_consumer_deletion = true

  stream_mode_details {
    stream_mode = var.stream_mode
  }

  tags = var.tags
}

resource "aws_kinesis_stream_consumer" "this" {
  count = var.enhanced_fan_out ? 1 : 0

  name       = var.consumer_name
  stream_arn = aws_kinesis_stream.this.arn
}
