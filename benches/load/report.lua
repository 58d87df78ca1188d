-- Prints one machine-readable line per run (read by run.sh):
-- RESULT <scenario> <connections> <requests> <req/s> <items/s> <p50 ms> <p99 ms> <errors>
-- errors = socket errors + timeouts + responses with status >= 400.
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local per = tonumber(os.getenv("ITEMS_PER_REQUEST") or "0")
  io.write(string.format("RESULT %s %s %d %.1f %.1f %.3f %.3f %d\n",
    os.getenv("SCENARIO"), os.getenv("CONNS"), summary.requests, summary.requests / secs,
    per * summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors))
end
