# Example values for deploy/terraform: copy this file next to a root module
# that calls the module, and change the names.
#
# The sizing block below is the verbatim output of the `# From:` command line
# (`shardflow plan ... --format tfvars`): rerun that command with your own
# write rates and consumers and paste its output over the block. A test
# (cmd/shardflow TestPlanTFVarsExample) reruns it and checks the block matches.

name               = "clickstream"
output_bucket_name = "example-clickstream-shardflow-output"
output_prefix      = "clickstream/"
consumer_name      = "clickstream"
worker_role_name   = "clickstream-shardflow-worker"

tags = {
  app  = "clickstream"
  team = "data"
}

# From: shardflow plan --consumers 2 --record-kb 2 --records-s 2000 --retention-hours 48 --format tfvars
# 5 shards recommended (4 needed, 20% headroom); $198.58 a month provisioned, $1643.79 on-demand.
stream_mode      = "PROVISIONED"
shard_count      = 5
retention_hours  = 48
enhanced_fan_out = false
