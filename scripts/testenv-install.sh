#!/usr/bin/env bash
# Installs the real services the integration tests run against, all on loopback:
# Kinesis API servers (kinesalite, kinesis-local), DynamoDB (dynalite), S3 (s3rver),
# DuckDB (an independent Parquet reader), Redis and the AWS CLI.
# Idempotent: a second run with everything in place takes a second.
# Node packages go to $SHARDFLOW_TESTENV (default: .testenv in the repository).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${SHARDFLOW_TESTENV:-$root/.testenv}
mkdir -p "$dir"

if ! command -v redis-server >/dev/null || ! [ -x /usr/bin/aws ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq redis-server awscli >/dev/null
  else
    echo "testenv: redis-server and awscli are missing; install them (apt-get install redis-server awscli)" >&2
    exit 1
  fi
fi

pkgs=(kinesalite@3.3.3 kinesis-local@0.6.2 dynalite@4.0.0 s3rver@3.7.1 @duckdb/node-api@1.5.6-r.1)
stamp="$dir/.installed-$(printf '%s\n' "${pkgs[@]}" | md5sum | cut -c1-12)"
if ! [ -f "$stamp" ]; then
  cd "$dir"
  [ -f package.json ] || echo '{"name":"shardflow-testenv","private":true}' > package.json
  npm install --no-audit --no-fund --silent "${pkgs[@]}"
  # kinesis-local (kinesis-mock compiled to JavaScript) hard-codes 0.0.0.0: bind loopback only.
  sed -i 's/Host\$().em("0\.0\.0\.0")/Host$().em("127.0.0.1")/' node_modules/kinesis-local/main.js
  grep -q 'Host$().em("127.0.0.1")' node_modules/kinesis-local/main.js
  touch "$stamp"
fi
echo "testenv: ready in $dir"
