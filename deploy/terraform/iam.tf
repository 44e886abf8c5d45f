# Least privilege for the shardflow worker: the Kinesis calls its source makes
# (sources/kinesis: DescribeStreamSummary, ListShards, GetShardIterator,
# GetRecords; with fan-out RegisterStreamConsumer, DescribeStreamConsumer,
# SubscribeToShard), on this stream and its consumer only; item access to the
# lease table; objects under the output prefix; the KMS key if there is one.

data "aws_iam_policy_document" "worker" {
  statement {
    sid = "ReadStream"
    actions = [
      "kinesis:DescribeStreamSummary",
      "kinesis:ListShards",
      "kinesis:GetShardIterator",
      "kinesis:GetRecords",
    ]
    resources = [aws_kinesis_stream.this.arn]
  }

  dynamic "statement" {
    for_each = var.enhanced_fan_out ? [1] : []
    content {
      sid       = "RegisterConsumer"
      actions   = ["kinesis:RegisterStreamConsumer"]
      resources = [aws_kinesis_stream.this.arn]
    }
  }

  dynamic "statement" {
    for_each = var.enhanced_fan_out ? [1] : []
    content {
      sid = "FanOut"
      actions = [
        "kinesis:DescribeStreamConsumer",
        "kinesis:SubscribeToShard",
      ]
      resources = [local.consumer_arns]
    }
  }

  statement {
    sid = "Leases"
    actions = [
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
      "dynamodb:Scan",
    ]
    resources = [aws_dynamodb_table.leases.arn]
  }

  statement {
    sid       = "ListOutput"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.output.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.output_prefix}*"]
    }
  }

  statement {
    sid = "WriteOutput"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.output.arn}/${var.output_prefix}*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid = "UseKey"
      actions = [
        "kms:Decrypt",
        "kms:GenerateDataKey",
      ]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "worker" {
  name        = "${var.name}-shardflow-worker"
  description = "shardflow worker: read Kinesis stream ${var.name}, its leases and its output."
  policy      = data.aws_iam_policy_document.worker.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "worker" {
  count = var.worker_role_name == null ? 0 : 1

  role       = var.worker_role_name
  policy_arn = aws_iam_policy.worker.arn
}
