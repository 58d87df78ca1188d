-- GetPersonalizedRanking with 500 candidates (i1, i5, ..., i1997) for users u1..u100 in turn.
dofile(os.getenv("LOAD_DIR") .. "/report.lua")

local bodies, n = {}, 0

function init(args)
  local campaign = os.getenv("CAMPAIGN_ARN")
  local items = {}
  for k = 1, 500 do items[k] = '"i' .. (4 * k - 3) .. '"' end
  local list = table.concat(items, ",")
  for u = 1, 100 do
    bodies[u] = '{"campaignArn":"' .. campaign .. '","userId":"u' .. u ..
      '","inputList":[' .. list .. ']}'
  end
end

function request()
  n = n % #bodies + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, bodies[n])
end
