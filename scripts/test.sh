#!/usr/bin/env bash
# The test command of the README and of CI: installs the real services the
# integration tests start on loopback (kinesalite, kinesis-local, dynalite,
# redis-server, DuckDB), then
# vets and runs every test with the race detector. Tests start and stop the
# servers they need themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/testenv-install.sh
go vet ./...
go test -race -timeout 20m ./...
