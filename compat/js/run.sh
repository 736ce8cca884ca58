#!/usr/bin/env bash
# Runs the JavaScript SDK compatibility suite against a freshly built kiln:
#   bash compat/js/run.sh            (from anywhere in the repository)
#
# It builds kiln into a temporary directory, installs the pinned SDK with
# `npm ci` (from the committed package-lock.json) when node_modules is
# missing, and runs the tests with node's built-in runner. A missing node,
# npm or SDK package fails the suite: it never skips.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for tool in go node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "compat/js: $tool is required but not installed" >&2
    exit 1
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "compat/js: building kiln" >&2
(cd "$root" && go build -o "$tmp/kiln" ./cmd/kiln)

cd "$here"
if [ ! -d node_modules/@databricks/sdk-experimental ]; then
  echo "compat/js: installing packages (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

export KILN_BIN="$tmp/kiln"
node --test --test-reporter=spec "$@"
