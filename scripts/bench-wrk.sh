#!/usr/bin/env bash
# Load benchmark of kiln's authenticated hot path, with wrk.
#
# In one run on this machine it measures, each for $DURATION with $CONNS
# connections:
#   bare      a bare Go net/http handler (bench/bare): the machine's reference
#   healthz   kiln's unauthenticated GET /healthz
#   me        kiln's authenticated GET /api/2.0/preview/scim/v2/Me, valid token
#   oauth     the same /Me with an OAuth access token (client_credentials of a
#             service principal): a JWT, verified once and then cached
#   bad       /Me with random well-formed bad tokens (failure throttle off: the
#             403 path, the cost of checking a bad token)
#   bad-429   /Me with random bad tokens and the default throttle (the 429 path
#             an attacker sees after 50 failures)
# and prints each as requests/s and as ratios, then checks that the requests
# did not write to the database: its size and the WAL's may grow by the one
# batched last-use flush (the token's last-used day, and its first use from
# the benchmark's address with that use's audit event: a few pages in one
# transaction), never per request.
#
# Usage: scripts/bench-wrk.sh     (ROUNDS=5 DURATION=5s CONNS=32 THREADS=1 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/bin/kiln" ./cmd/kiln
go build -o "$work/bin/bare" ./bench/bare

wait_ready() { for _ in $(seq 100); do curl -fs "$1" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1" >&2; exit 1; }

"$work/bin/bare" -addr 127.0.0.1:18090 & pids+=($!)
start_kiln() { # name port extra-flags...
  local dir="$work/$1" port=$2; shift 2
  "$work/bin/kiln" serve --data-dir "$dir" --addr "127.0.0.1:$port" --log-level warn "$@" 2>"$work/$port.log" & pids+=($!)
  wait_ready "http://127.0.0.1:$port/readyz"
}
start_kiln kiln 18091
start_kiln kiln-nothrottle 18092 --auth-failure-burst -1
wait_ready http://127.0.0.1:18090/
for d in kiln kiln-nothrottle; do "$work/bin/kiln" admin --data-dir "$work/$d" conf set enableTokensConfig=true 2>/dev/null; done
TOKEN=$("$work/bin/kiln" admin --data-dir "$work/kiln" tokens create --user admin@kiln.local --comment bench)
sleep 1 # the server picks up offline changes within a second
curl -fs -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18091/api/2.0/preview/scim/v2/Me >/dev/null
# A service principal, its OAuth secret, and an access token for it.
api() { curl -fs -H "Authorization: Bearer $TOKEN" "$@"; }
SP=$(api -X POST -d '{"displayName":"bench"}' http://127.0.0.1:18091/api/2.0/preview/scim/v2/ServicePrincipals)
SP_ID=$(echo "$SP" | sed 's/.*"id":"\([0-9]*\)".*/\1/'); APP_ID=$(echo "$SP" | sed 's/.*"applicationId":"\([^"]*\)".*/\1/')
SECRET=$(api -X POST "http://127.0.0.1:18091/api/2.0/accounts/servicePrincipals/$SP_ID/credentials/secrets" | sed 's/.*"secret":"\([^"]*\)".*/\1/')
ACCESS=$(curl -fs -u "$APP_ID:$SECRET" -d grant_type=client_credentials -d scope=all-apis http://127.0.0.1:18091/oidc/v1/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
curl -fs -H "Authorization: Bearer $ACCESS" http://127.0.0.1:18091/api/2.0/preview/scim/v2/Me >/dev/null

size() { stat -c %s "$work/kiln/kiln.db" "$work/kiln/kiln.db-wal" 2>/dev/null | paste -sd+ | bc; }
run() { # name url tokens
  local out rps
  out=$(TOKENS="$3" WRK_PATH="$4" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s bench/wrk/token.lua "$2" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  echo "$1 $rps req/s $(echo "$out" | grep '^requests=') non-2xx=$(echo "$out" | awk '/Non-2xx/ {n=$5} END {print n+0}') socket-errors=$(echo "$out" | awk '/Socket errors/ {print $4,$6,$8,$10}')" >&2
  echo "$rps"
}
# Targets are measured in interleaved rounds and each reported as its
# median: on a shared machine throughput drifts over a minute, and
# measuring the targets one after another would fold that drift into the
# ratios.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
before=$(size)
declare -a B H M O X Y
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  B+=("$(run bare http://127.0.0.1:18090 "$TOKEN" /)")
  H+=("$(run healthz http://127.0.0.1:18091 "$TOKEN" /healthz)")
  M+=("$(run me http://127.0.0.1:18091 "$TOKEN" /api/2.0/preview/scim/v2/Me)")
  O+=("$(run oauth http://127.0.0.1:18091 "$ACCESS" /api/2.0/preview/scim/v2/Me)")
  X+=("$(run bad http://127.0.0.1:18092 random /api/2.0/preview/scim/v2/Me)")
done
after=$(size)
Y+=("$(run bad-429 http://127.0.0.1:18091 random /api/2.0/preview/scim/v2/Me)")
bare=$(median "${B[@]}"); healthz=$(median "${H[@]}"); me=$(median "${M[@]}"); oauth=$(median "${O[@]}"); bad=$(median "${X[@]}"); bad429=${Y[0]}

ratio() { echo "scale=2; $1 / $2" | bc; }
cat <<REPORT

wrk -t$THREADS -c$CONNS -d$DURATION on $(nproc) cores ($(go version | awk '{print $3}')), median of $ROUNDS interleaved rounds
  bare net/http handler          $bare req/s   (rounds: ${B[*]})
  kiln GET /healthz              $healthz req/s   (rounds: ${H[*]})
  kiln GET /Me, valid token      $me req/s   (rounds: ${M[*]})
  kiln GET /Me, OAuth token      $oauth req/s   (rounds: ${O[*]})
  kiln GET /Me, bad tokens (403) $bad req/s   (rounds: ${X[*]})
  kiln GET /Me, bad tokens (429) $bad429 req/s   (one round, after the others)
ratios
  /Me valid / kiln /healthz      $(ratio "$me" "$healthz")   (target >= 0.90)
  /Me valid / bare handler       $(ratio "$me" "$bare")   (target >= 0.75)
  /Me OAuth / PAT                $(ratio "$oauth" "$me")   (target >= 0.95)
  bad (403) / valid              $(ratio "$bad" "$me")   (target >= 1.00)
  bad (429) / valid              $(ratio "$bad429" "$me")
database bytes before and after the valid and bad-token runs: $before -> $after
  (hundreds of thousands of requests; the only write allowed is the batched
  last-use flush: the token's day of use, at most once a day, and its first
  use from this address with its audit event, once: a few pages)
REPORT
[ $((after - before)) -le 65536 ] || { echo "FAIL: the requests wrote $((after - before)) bytes to the database" >&2; exit 1; }
