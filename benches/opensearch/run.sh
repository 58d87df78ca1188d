#!/usr/bin/env bash
# Search latency through a real OpenSearch node (3.x by default, LINE=2 for 2.19) with and
# without Attune's personalized_search_ranking processor, and through Attune's search proxy, in
# one run (not part of CI).
#
# Builds the release `attune` and uses the plugin zip and the OpenSearch integ-test distribution
# that `mvn -B -f opensearch-plugin/pom.xml verify` leaves under opensearch-plugin/target.
# Generates synthetic data (5,000 users, 2,000 items, 150,000 interactions), trains a
# Personalized-Ranking solution (iALS, 64 factors), deploys it as campaign `rank`, starts
# `attune serve` (also the proxy: --opensearch-url, campaign `rank`, weight 0.3) and a node with
# the plugin pointed at it, indexes the 2,000 items into `demo-catalog` (plugin-config's index
# template) and creates the guide's pipeline (plugin-config/pipelines/personalized-search-ranking.json,
# weight 0.3). Then, for 10- and 100-hit searches, one connection each (sequential searches,
# so the latency is a search's own), alternating in each round:
#   plain-N      the search without the pipeline, straight to the node
#   pipeline-N   the same search through the pipeline
#   proxy-N      the same search through Attune's proxy (to the same node, no pipeline)
# and prints the table, what the pipeline and the proxy add to the plain search's p50 and p99,
# and the processor's execution and failure counts from GET /_nodes/stats/search_pipeline.
# Needs wrk, curl and python3.
#
# Usage: benches/opensearch/run.sh
# Knobs: LINE=3 (2 for 2.19) DURATION=10s ROUNDS=2 KEEP=1 OS_HEAP=1g PLUGIN_ZIP=<another build
# of the line's zip, e.g. to compare two versions of the plugin>
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../common.sh
source "$ROOT/benches/common.sh"
HERE="$ROOT/benches/opensearch"
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
OS_HEAP=${OS_HEAP:-1g}
LINE=${LINE:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/attune-os-load.XXXXXX")
SERVER_PID=
NODE_PID=

cleanup() {
    [[ -n "$NODE_PID" ]] && { kill -- -"$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true; }
    [[ -n "$SERVER_PID" ]] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    if [[ -z "${KEEP:-}" ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

for tool in wrk curl python3 java; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
ZIP=${PLUGIN_ZIP:-$(ls "$ROOT"/opensearch-plugin/target/releases/attune-opensearch-plugin-os-"$LINE".*.zip 2>/dev/null | tail -n1)}
DIST=$(ls -d "$ROOT"/opensearch-plugin/target/opensearch-dist/opensearch-"$LINE".*/ 2>/dev/null | tail -n1)
[[ -f "$ZIP" && -n "$DIST" ]] || {
    echo "error: run 'mvn -B -f opensearch-plugin/pom.xml verify' first (plugin zip and OpenSearch distribution)" >&2
    exit 1
}

echo "== building the release binary" >&2
(cd "$ROOT" && cargo build --release --quiet -p attune-server --bin attune)
BIN="$ROOT/target/release/attune"
DATA="$WORK/data"

echo "== preparing data, model and campaign in $WORK" >&2
"$BIN" generate --users 5000 --items 2000 --interactions 150000 --seed 7 --out "$WORK/gen" >/dev/null
for ty in Interactions Items; do
    lower=$(echo "$ty" | tr '[:upper:]' '[:lower:]')
    "$BIN" import --data-dir "$DATA" --dataset-group load --dataset-type "$ty" \
        --schema "$WORK/gen/$lower.avsc" --file "$WORK/gen/$lower.csv" >/dev/null
done
"$BIN" train --data-dir "$DATA" --dataset-group load --solution rank \
    --hp algorithm=ials --hp factors=64 --no-evaluate >/dev/null
"$BIN" deploy --data-dir "$DATA" --campaign rank --solution rank >/dev/null

OS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TR_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
OS="http://127.0.0.1:$OS_PORT"

echo "== starting attune serve (also the proxy in front of $OS)" >&2
start_attune --opensearch-url "$OS" --proxy-campaign rank --proxy-weight 0.3
ATTUNE="http://$ADDR"

echo "== starting OpenSearch with the plugin" >&2
cp -r "$DIST" "$WORK/os"
if [[ -z "${OPENSEARCH_JAVA_HOME:-}" ]]; then
    # 2.19 runs on the default Java 17, 3.x on a Java 21+ JDK.
    if [[ "$LINE" == 2 ]]; then
        OPENSEARCH_JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    else
        OPENSEARCH_JAVA_HOME=${JDK21:-/usr/lib/jvm/temurin-25-jdk-amd64}
    fi
fi
export OPENSEARCH_JAVA_HOME
"$WORK/os/bin/opensearch-plugin" install --batch "file://$ZIP" >/dev/null
# OpenSearch refuses to run as root: then run it in a user namespace, as an unprivileged user.
PREFIX=()
[[ $(id -u) == 0 ]] && PREFIX=(unshare -U)
OPENSEARCH_JAVA_OPTS="-Xms$OS_HEAP -Xmx$OS_HEAP" setsid "${PREFIX[@]}" "$WORK/os/bin/opensearch" \
    -Ediscovery.type=single-node -Enetwork.host=127.0.0.1 -Ehttp.port="$OS_PORT" \
    -Etransport.port="$TR_PORT" -Ecluster.routing.allocation.disk.threshold_enabled=false \
    -Epersonalized_search_ranking.service.endpoint="$ATTUNE" >"$WORK/os.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 900); do
    curl -fsS "$OS/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1 && break
    kill -0 "$NODE_PID" 2>/dev/null || { tail -40 "$WORK/os.log" >&2; exit 1; }
    sleep 0.2
done

echo "== indexing the catalog and creating the pipeline" >&2
curl -fsS -X PUT "$OS/_index_template/demo-catalog" -H 'Content-Type: application/json' \
    --data-binary @"$ROOT/plugin-config/pipelines/index-template-demo-catalog.json" >/dev/null
python3 - "$WORK/gen/items.csv" >"$WORK/bulk.ndjson" <<'PY'
import csv, json, sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    print(json.dumps({"index": {"_index": "demo-catalog", "_id": r["ITEM_ID"]}}))
    print(json.dumps({"item_id": r["ITEM_ID"], "title": r.get("TITLE", ""),
                      "genres": [g for g in r.get("GENRES", "").split("|") if g],
                      "brand": r.get("BRAND") or None, "price": float(r["PRICE"]) if r.get("PRICE") else None,
                      "creation_timestamp": int(float(r["CREATION_TIMESTAMP"])) if r.get("CREATION_TIMESTAMP") else None}))
PY
curl -fsS -X POST "$OS/_bulk?refresh=true" -H 'Content-Type: application/x-ndjson' \
    --data-binary @"$WORK/bulk.ndjson" | grep -q '"errors":false' || { echo "error: bulk indexing failed" >&2; exit 1; }
sed 's#campaign/demo-ranking#campaign/rank#' "$ROOT/plugin-config/pipelines/personalized-search-ranking.json" |
    curl -fsS -X PUT "$OS/_search/pipeline/personalized-search-ranking" -H 'Content-Type: application/json' \
        --data-binary @- >/dev/null

RESULTS="$WORK/results"
: >"$RESULTS"
export LOAD_DIR="$ROOT/benches/load"
run() { # name size base path
    echo "== $1 (1 connection, $DURATION)" >&2
    SCENARIO=$1 CONNS=1 SIZE=$2 ITEMS_PER_REQUEST=$2 \
        wrk -t1 -c1 -d"$DURATION" -s "$HERE/search.lua" "$3$4" | grep '^RESULT' | tee -a "$RESULTS" >&2
}
PLAIN="/demo-catalog/_search"
PIPE="/demo-catalog/_search?search_pipeline=personalized-search-ranking"
# Warm-up: JIT and caches on every path.
for size in 10 100; do
    DURATION=5s run warmup "$size" "$OS" "$PLAIN" >/dev/null 2>&1
    DURATION=5s run warmup "$size" "$OS" "$PIPE" >/dev/null 2>&1
    DURATION=5s run warmup "$size" "$ATTUNE" "$PLAIN" >/dev/null 2>&1
done
: >"$RESULTS"
for _ in $(seq 1 "$ROUNDS"); do
    for size in 10 100; do
        run "plain-$size" "$size" "$OS" "$PLAIN"
        run "pipeline-$size" "$size" "$OS" "$PIPE"
        run "proxy-$size" "$size" "$ATTUNE" "$PLAIN"
    done
done

echo
echo "loopback, $(nproc) cores, OpenSearch $(basename "$DIST") heap $OS_HEAP, wrk -t1 -c1, $DURATION per run, $ROUNDS rounds"
printf '%-13s %10s %9s %9s %9s %7s\n' scenario requests req/s p50_ms p99_ms errors
awk '{ printf "%-13s %10s %9.0f %9.3f %9.3f %7s\n", $2, $4, $5, $7, $8, $9 }' "$RESULTS"
echo
echo "added to the plain search (median over the rounds of each run's p50 and p99):"
python3 - "$RESULTS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    runs.setdefault(f[1], []).append((float(f[6]), float(f[7])))
def med(name, k):
    return statistics.median(r[k] for r in runs[name])
for size in (10, 100):
    plain = "plain-%d" % size
    for via in ("pipeline", "proxy"):
        name = "%s-%d" % (via, size)
        print("  %-8s %3d hits: p50 %+.3f ms, p99 %+.3f ms" % (
            via, size, med(name, 0) - med(plain, 0), med(name, 1) - med(plain, 1)))
PY
curl -fsS "$OS/_nodes/stats/search_pipeline" | python3 -c '
import json, sys
stats = json.load(sys.stdin)
for node in stats["nodes"].values():
    p = node["search_pipeline"]["pipelines"]["personalized-search-ranking"]
    for proc in p["response_processors"]:
        for name, s in proc.items():
            st = s["stats"]
            print("processor %s: %d executions, %d failed" % (name, st["count"], st["failed"]))
'
