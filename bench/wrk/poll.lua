-- wrk script: POST /v1 getResponse for task UUIDs listed (one per line) in the file $CINEFUSE_TASKS.
local key = os.getenv("CINEFUSE_KEY") or "bench"
local uuids = {}
for line in io.lines(os.getenv("CINEFUSE_TASKS")) do uuids[#uuids + 1] = line end
local i = 0
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end
function request()
  i = i % #uuids + 1
  return wrk.format(nil, nil, nil, '[{"taskType":"getResponse","taskUUID":"' .. uuids[i] .. '"}]')
end
function response(status, headers, body)
  if status ~= 200 then
    errors_seen = (errors_seen or 0) + 1
    if errors_seen < 3 then print("non-200: " .. status .. " " .. body) end
  end
end
