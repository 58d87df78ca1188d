# Shared by the bench scripts (sourced, not run): starting `attune serve` and waiting for it.

# start_attune ARG...: starts "$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 ARG... in the
# background, logging to $WORK/server.{out,err}, and waits until it prints its address. Sets
# SERVER_PID and ADDR (host:port); exits the script when the server dies or never listens.
start_attune() {
    RUST_LOG=warn "$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 "$@" \
        >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    ADDR=
    for _ in $(seq 1 600); do
        ADDR=$(sed -n 's/^listening on //p' "$WORK/server.out" | head -n1)
        [[ -n "$ADDR" ]] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; exit 1; }
        sleep 0.1
    done
    echo "error: the server did not start" >&2
    exit 1
}
