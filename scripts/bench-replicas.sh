#!/usr/bin/env bash
# Several-replica benchmark: authenticated request throughput of
# one, two and three kiln replicas on PostgreSQL against the same on SQLite,
# and the revocation propagation time between replicas (median and worst of
# 100). Everything runs on loopback; see bench/replicas/main.go.
#
# Usage: scripts/bench-replicas.sh     (DURATION=10s CONNS=32 REVOCATIONS=100)
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v wrk >/dev/null || need+=(wrk)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
exec go run ./bench/replicas -duration "${DURATION:-10s}" -conns "${CONNS:-32}" -revocations "${REVOCATIONS:-100}"
