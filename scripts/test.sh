#!/usr/bin/env bash
# Runs every kiln test suite, installing what the suites need first. This
# is the README's test command and what CI runs (.ci/run); nothing in it
# skips: a missing browser, Node.js package or database fails the run.
#
#   scripts/test.sh
#
# Environment: FUZZTIME (e.g. 10s) additionally runs each fuzz target for
# that long; KILN_SCREENSHOT_DIR keeps the console tests' screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--buildvcs=false}

step() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
# Node.js and npm for the JavaScript SDK suite. The SDK needs Node.js 22 or
# later; when the node found here is older (Debian 12 ships 18),
# compat/js/run.sh installs Node.js 22 from the npm registry for the suite,
# or says what is missing.
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
# curl and jq: the README's Quick start, which a test runs as printed.
command -v curl >/dev/null || need_apt+=(curl)
command -v jq >/dev/null || need_apt+=(jq)
# python3 runs job tasks in the executor's end-to-end tests.
command -v python3 >/dev/null || need_apt+=(python3)
# PostgreSQL for the store's conformance suite and the multi-replica tests:
# only the binaries; internal/pgtest starts a throwaway server itself.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "installing ${need_apt[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './compat/js/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
go vet ./...
(cd compat/go && go vet ./...)

step "staticcheck (pinned in scripts/tools/go.mod)"
# A module of its own holds the tool, so the main module's requirements
# stay what the kiln binary links. compat/go/staticcheck.conf says why the
# compatibility suite may call the SDK's deprecated services.
tools_mod=$PWD/scripts/tools/go.mod
go tool -modfile="$tools_mod" staticcheck ./...
(cd compat/go && go tool -modfile="$tools_mod" staticcheck ./...)

step "axe-core for the console's accessibility audit (npm ci in console/testdata/axe)"
# Pinned by the committed package-lock.json and installed fresh each run;
# TestAccessibility fails, never skips, when axe.min.js is missing.
npm ci --prefix console/testdata/axe --no-audit --no-fund

step "go test -race ./... (unit, store conformance, API end to end, CLI, console in Chromium)"
go test -race -count=1 -timeout 30m ./...

step "compatibility: official Databricks Go SDK v0.175.0"
(cd compat/go && go test -race -count=1 ./...)

step "compatibility: official Databricks JavaScript SDK 0.17.0"
bash compat/js/run.sh

if [ -n "${FUZZTIME:-}" ]; then
  step "fuzzing each target for $FUZZTIME"
  # Every package whose tests declare a fuzz function (go list names the
  # test files), and in each every target that go test -list reports.
  tests=$(go list -f '{{.ImportPath}}{{range .TestGoFiles}} {{$.Dir}}/{{.}}{{end}}{{range .XTestGoFiles}} {{$.Dir}}/{{.}}{{end}}' ./...)
  fuzzed=0
  while read -r pkg files <&3; do
    [ -n "$files" ] && grep -q '^func Fuzz' $files || continue
    list=$(go test -list '^Fuzz' "$pkg")
    for target in $(grep '^Fuzz' <<<"$list" || true); do
      go test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" "$pkg"
      fuzzed=$((fuzzed + 1))
    done
  done 3<<<"$tests"
  if [ "$fuzzed" -eq 0 ]; then echo "no fuzz targets found"; exit 1; fi
  echo "fuzzed $fuzzed targets"
fi
step "all suites passed"
