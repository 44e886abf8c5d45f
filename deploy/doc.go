// Package deploy holds what runs shardflow jobs in production, and the tests
// that keep it honest (the package has no Go code of its own):
//
//   - terraform/: a module for the Kinesis stream (provisioned or on-demand,
//     retention, KMS, tags), an optional enhanced fan-out consumer, the
//     DynamoDB table for checkpoints and leases (hash key leaseKey, the KCL
//     layout), a private encrypted S3 output bucket, and the worker's
//     least-privilege IAM policy. examples/terraform.tfvars takes its sizing
//     from `shardflow plan --format tfvars` (internal/capacity).
//   - container/Dockerfile: a static, trimmed binary on distroless, user 65532.
//   - kubernetes/: a single-replica Deployment (local checkpoints on a
//     volume until DynamoDB leases exist), its PodDisruptionBudget, ConfigMap,
//     ServiceAccount and PersistentVolumeClaim, applied with kustomize.
//
// The tests parse every .tf file with hashicorp/hcl/v2 (variables typed,
// described, validated and used; outputs described; shard_count null in
// on-demand mode; the Kinesis actions granted are the ones the source calls),
// build the binary with the Dockerfile's own build line and check it is
// static, and parse the manifests (graceful termination longer than the
// checkpoint interval, scrape annotations on the metrics port, every flag
// known to the binary). The build takes minutes uncached; -short skips it.
package deploy
