output "stream_name" {
  description = "Name of the Kinesis stream."
  value       = aws_kinesis_stream.this.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.this.arn
}

output "shard_count" {
  description = "Open shards asked for in PROVISIONED mode; null in ON_DEMAND mode."
  value       = aws_kinesis_stream.this.shard_count
}

output "consumer_arn" {
  description = "ARN of the enhanced fan-out consumer; null without enhanced_fan_out."
  value       = one(aws_kinesis_stream_consumer.this[*].arn)
}

output "shardflow_source" {
  description = "The --source to give `shardflow run`: kinesis://STREAM, with ?consumer=NAME for enhanced fan-out."
  value       = var.enhanced_fan_out ? "kinesis://${aws_kinesis_stream.this.name}?consumer=${var.consumer_name}" : "kinesis://${aws_kinesis_stream.this.name}"
}

output "checkpoint_table_name" {
  description = "Name of the DynamoDB table for checkpoints and leases."
  value       = aws_dynamodb_table.leases.name
}

output "checkpoint_table_arn" {
  description = "ARN of the DynamoDB table for checkpoints and leases."
  value       = aws_dynamodb_table.leases.arn
}

output "output_bucket" {
  description = "Name of the output bucket."
  value       = aws_s3_bucket.output.bucket
}

output "output_bucket_arn" {
  description = "ARN of the output bucket."
  value       = aws_s3_bucket.output.arn
}

output "worker_policy_arn" {
  description = "ARN of the worker's least-privilege IAM policy; attach it to the role the worker runs as."
  value       = aws_iam_policy.worker.arn
}

output "worker_policy_json" {
  description = "The worker's IAM policy document, for review."
  value       = data.aws_iam_policy_document.worker.json
}
