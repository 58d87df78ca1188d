#!/usr/bin/env bash
# Load test of `attune serve` on loopback with wrk (not part of CI).
#
# Builds the release binary, generates synthetic data (5,000 users, 2,000 items, 150,000
# interactions), trains a Personalized-Ranking solution (iALS, 64 factors), deploys it as
# campaign `rank`, starts the server on 127.0.0.1 and creates an event tracker, then runs:
#   health          GET /health
#   rank-500        GetPersonalizedRanking, 500 candidates, 100 known users without events
#   rank-500-c1     the same over one connection (latency without queueing)
#   events-1        PutEvents, 1 event per call (durable before the 200)
#   events-10       PutEvents, 10 events per call
#   rank-500-rt     GetPersonalizedRanking again: the 100 users now have 50 real-time events
#                   each, folded in on every request
# and prints one table. Needs wrk (`apt-get install -y wrk`) and curl.
#
# Usage: benches/load/run.sh            (from anywhere in the workspace)
# Knobs: DURATION=10s CONNECTIONS=16 WRK_THREADS=1 WORKERS=<server worker threads> KEEP=1
#        ALGORITHM=ials (or sequence, ease: the Personalized-Ranking algorithm measured)
#        BIN=<an attune binary to measure instead of building one> (before/after comparisons)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../common.sh
source "$ROOT/benches/common.sh"
HERE="$ROOT/benches/load"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
WRK_THREADS=${WRK_THREADS:-1}
ALGORITHM=${ALGORITHM:-ials}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/attune-load.XXXXXX")
SERVER_PID=

cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -z "${KEEP:-}" ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done

if [[ -z "${BIN:-}" ]]; then
    echo "== building the release binary" >&2
    (cd "$ROOT" && cargo build --release --quiet -p attune-server --bin attune)
    BIN="$ROOT/target/release/attune"
fi
DATA="$WORK/data"

echo "== preparing data, model and campaign in $WORK" >&2
"$BIN" generate --users 5000 --items 2000 --interactions 150000 --seed 7 --out "$WORK/gen" >/dev/null
"$BIN" import --data-dir "$DATA" --dataset-group load --dataset-type Interactions \
    --schema "$WORK/gen/interactions.avsc" --file "$WORK/gen/interactions.csv" >/dev/null
"$BIN" train --data-dir "$DATA" --dataset-group load --solution rank \
    --hp algorithm="$ALGORITHM" --hp factors=64 --no-evaluate >/dev/null
"$BIN" deploy --data-dir "$DATA" --campaign rank --solution rank >/dev/null

echo "== starting the server" >&2
SERVE_ARGS=()
if [[ -n "${WORKERS:-}" ]]; then SERVE_ARGS+=(--worker-threads "$WORKERS"); fi
start_attune ${SERVE_ARGS[@]+"${SERVE_ARGS[@]}"}
URL="http://$ADDR"

control() {
    curl -fsS "$URL/" -H "X-Amz-Target: AmazonPersonalize.$1" \
        -H 'Content-Type: application/x-amz-json-1.1' -d "$2"
}
CAMPAIGN_ARN=$(control ListCampaigns '{}' |
    sed -n 's/.*"campaignArn":"\([^"]*campaign\/rank\)".*/\1/p')
GROUP_ARN=$(control ListDatasetGroups '{}' |
    sed -n 's/.*"datasetGroupArn":"\([^"]*dataset-group\/load\)".*/\1/p')
TRACKING_ID=$(control CreateEventTracker "{\"name\": \"load\", \"datasetGroupArn\": \"$GROUP_ARN\"}" |
    sed -n 's/.*"trackingId":"\([^"]*\)".*/\1/p')
[[ -n "$CAMPAIGN_ARN" && -n "$TRACKING_ID" ]] || { echo "error: campaign or tracker missing" >&2; exit 1; }
export CAMPAIGN_ARN TRACKING_ID

RESULTS="$WORK/results"
: >"$RESULTS"
export LOAD_DIR="$HERE"
run() { # name connections script path items-per-request
    local name=$1 conns=$2 script=$3 path=$4 items=$5
    echo "== $name ($conns connections, $DURATION)" >&2
    SCENARIO=$name CONNS=$conns ITEMS_PER_REQUEST=$items EVENTS_PER_CALL=$items \
        wrk -t"$WRK_THREADS" -c"$conns" -d"$DURATION" -s "$HERE/$script" "$URL$path" |
        grep '^RESULT' | tee -a "$RESULTS" >&2
}
run health "$CONNECTIONS" report.lua /health 0
run rank-500 "$CONNECTIONS" rank.lua /personalize-ranking 500
run rank-500-c1 1 rank.lua /personalize-ranking 500
run events-1 "$CONNECTIONS" events.lua /events 1
run events-10 "$CONNECTIONS" events.lua /events 10
run rank-500-rt "$CONNECTIONS" rank.lua /personalize-ranking 500

echo
echo "loopback, $(nproc) cores, wrk -t$WRK_THREADS, $DURATION per run"
printf '%-12s %6s %10s %10s %9s %9s %9s %7s\n' scenario conns requests req/s items/s p50_ms p99_ms errors
awk '{ printf "%-12s %6s %10s %10.0f %9.0f %9.3f %9.3f %7s\n", $2, $3, $4, $5, $6, $7, $8, $9 }' "$RESULTS"
echo "(items/s: candidates ranked per second for rank-*, events acknowledged per second for events-*)"
