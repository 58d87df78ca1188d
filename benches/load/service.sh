#!/usr/bin/env bash
# Latency of the in-process ranking service (sdk/examples/rerank_service.rs) beside
# `attune serve`'s, for the same requests, on loopback with wrk (not part of CI).
#
# Builds the release `attune` binary and the example, prepares the data of run.sh (5,000 users,
# 2,000 items, 150,000 interactions; iALS with 64 factors deployed as campaign `rank`), starts
# the server and the example on the same data directory with the same worker threads, then runs
# against each:
#   rank-500      GetPersonalizedRanking, 500 candidates, 100 known users without events
#   rank-500-c1   the same over one connection (latency without queueing)
# and prints one table. Needs wrk (`apt-get install -y wrk`) and curl.
#
# Usage: benches/load/service.sh        (from anywhere in the workspace)
# Knobs: DURATION=10s CONNECTIONS=16 WRK_THREADS=1 WORKERS=2 KEEP=1
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../common.sh
source "$ROOT/benches/common.sh"
HERE="$ROOT/benches/load"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
WRK_THREADS=${WRK_THREADS:-1}
WORKERS=${WORKERS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/attune-service.XXXXXX")
SERVER_PID=
SERVICE_PID=

cleanup() {
    for pid in "$SERVER_PID" "$SERVICE_PID"; do
        if [[ -n "$pid" ]]; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -z "${KEEP:-}" ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done

echo "== building the release binary and the example" >&2
(cd "$ROOT" && cargo build --release --quiet -p attune-server --bin attune &&
    cargo build --release --quiet -p attune --example rerank_service)
BIN="$ROOT/target/release/attune"
SERVICE_BIN="$ROOT/target/release/examples/rerank_service"
DATA="$WORK/data"

echo "== preparing data, model and campaign in $WORK" >&2
"$BIN" generate --users 5000 --items 2000 --interactions 150000 --seed 7 --out "$WORK/gen" >/dev/null
"$BIN" import --data-dir "$DATA" --dataset-group load --dataset-type Interactions \
    --schema "$WORK/gen/interactions.avsc" --file "$WORK/gen/interactions.csv" >/dev/null
"$BIN" train --data-dir "$DATA" --dataset-group load --solution rank \
    --hp algorithm=ials --hp factors=64 --no-evaluate >/dev/null
"$BIN" deploy --data-dir "$DATA" --campaign rank --solution rank >/dev/null

echo "== starting the server and the example service ($WORKERS worker threads each)" >&2
start_attune --worker-threads "$WORKERS"
SERVER_URL="http://$ADDR"
"$SERVICE_BIN" --data-dir "$DATA" --campaign rank --listen 127.0.0.1:0 --threads "$WORKERS" \
    >"$WORK/service.out" 2>"$WORK/service.err" &
SERVICE_PID=$!
SERVICE_URL=
for _ in $(seq 1 600); do
    SERVICE_URL=$(sed -n 's/^listening on //p' "$WORK/service.out" | head -n1)
    [[ -n "$SERVICE_URL" ]] && break
    kill -0 "$SERVICE_PID" 2>/dev/null || { cat "$WORK/service.err" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$SERVICE_URL" ]] || { echo "error: the example did not start" >&2; exit 1; }

CAMPAIGN_ARN=$(curl -fsS "$SERVER_URL/" -H "X-Amz-Target: AmazonPersonalize.ListCampaigns" \
    -H 'Content-Type: application/x-amz-json-1.1' -d '{}' |
    sed -n 's/.*"campaignArn":"\([^"]*campaign\/rank\)".*/\1/p')
[[ -n "$CAMPAIGN_ARN" ]] || { echo "error: campaign missing" >&2; exit 1; }
export CAMPAIGN_ARN LOAD_DIR="$HERE"

RESULTS="$WORK/results"
: >"$RESULTS"
run() { # target url connections scenario
    local target=$1 url=$2 conns=$3 name=$4
    echo "== $target $name ($conns connections, $DURATION)" >&2
    SCENARIO="$target:$name" CONNS=$conns ITEMS_PER_REQUEST=500 \
        wrk -t"$WRK_THREADS" -c"$conns" -d"$DURATION" -s "$HERE/rank.lua" "$url/personalize-ranking" |
        grep '^RESULT' | tee -a "$RESULTS" >&2
}
for target in server service; do
    if [[ $target == server ]]; then url=$SERVER_URL; else url=$SERVICE_URL; fi
    run "$target" "$url" "$CONNECTIONS" rank-500
    run "$target" "$url" 1 rank-500-c1
done

echo
echo "loopback, $(nproc) cores, $WORKERS worker threads each, wrk -t$WRK_THREADS, $DURATION per run"
printf '%-22s %6s %10s %10s %9s %9s %7s\n' target:scenario conns requests req/s p50_ms p99_ms errors
awk '{ printf "%-22s %6s %10s %10.0f %9.3f %9.3f %7s\n", $2, $3, $4, $5, $7, $8, $9 }' "$RESULTS"
echo "(server: attune serve, with real-time state and metrics; service: the example, model only)"
