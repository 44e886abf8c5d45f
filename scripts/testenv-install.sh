#!/usr/bin/env bash
# Installs the real services the integration tests run against, all on loopback:
# the Kinesis API servers kinesalite and kinesis-local, DynamoDB's dynalite,
# Debian's redis-server (for the online feature stores), and DuckDB (through
# @duckdb/node-api), the independent reader of the Parquet output.
# Idempotent: a second run with everything in place takes a second.
# Node packages go to $SHARDFLOW_TESTENV (default: .testenv in the repository).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${SHARDFLOW_TESTENV:-$root/.testenv}
mkdir -p "$dir"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "testenv: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi

pkgs=(kinesalite@3.3.3 kinesis-local@0.6.2 @duckdb/node-api@1.5.6-r.1 dynalite@4.0.0)
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
# Redis online-store tests start a real redis-server (internal/testenv/redis.go).
if ! command -v redis-server >/dev/null 2>&1 && ! [ -x /usr/bin/redis-server ]; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq redis-server >/dev/null
fi
echo "testenv: ready in $dir"
