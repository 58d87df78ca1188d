-- PutEvents for users u1..u100 in turn, EVENTS_PER_CALL click events per call on varying items.
dofile(os.getenv("LOAD_DIR") .. "/report.lua")

local bodies, n = {}, 0

function init(args)
  local tracking = os.getenv("TRACKING_ID")
  local per = tonumber(os.getenv("EVENTS_PER_CALL") or "1")
  local k = 0
  for b = 1, 10 do
    for u = 1, 100 do
      local events = {}
      for e = 1, per do
        k = k + 1
        events[e] = '{"eventType":"click","itemId":"i' .. (k * 7 % 2000 + 1) ..
          '","sentAt":1800000000}'
      end
      bodies[#bodies + 1] = '{"trackingId":"' .. tracking .. '","sessionId":"s' .. u ..
        '","userId":"u' .. u .. '","eventList":[' .. table.concat(events, ",") .. ']}'
    end
  end
end

function request()
  n = n % #bodies + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, bodies[n])
end
