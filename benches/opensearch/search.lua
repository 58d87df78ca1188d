-- An OpenSearch search of SIZE hits (default 100) with the processor's request extension, for
-- users u1..u100 in turn (the same body with or without the pipeline, and through the proxy:
-- only the URL differs).
dofile(os.getenv("LOAD_DIR") .. "/report.lua")

local bodies, n = {}, 0

function init(args)
  local size = tonumber(os.getenv("SIZE") or "100")
  for u = 1, 100 do
    bodies[u] = '{"size":' .. size .. ',"query":{"function_score":{"query":{"match_all":{}},' ..
      '"field_value_factor":{"field":"price","missing":1}}},' ..
      '"ext":{"personalize_request_parameters":{"user_id":"u' .. u .. '"}}}'
  end
end

function request()
  n = n % #bodies + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, bodies[n])
end
