-- wrk script: POST /v1 videoInference with a fresh UUID v4 taskUUID per request.
-- Usage: wrk -t2 -c32 -d10s -s submit.lua http://127.0.0.1:PORT/v1  (env CINEFUSE_KEY)
local key = os.getenv("CINEFUSE_KEY") or "bench"
local counter = 0
local prefix

function setup(thread)
  thread:set("thread_id", math.random(0, 0xfffff))
end

local function uuid4()
  counter = counter + 1
  local r1 = math.random(0, 0xffffffff)
  return string.format("%08x-%04x-4%03x-%04x-%012x",
    (r1 + thread_id) % 0x100000000, math.random(0, 0xffff), math.random(0, 0xfff),
    0x8000 + math.random(0, 0x3fff), counter * 0x100000 + (thread_id or 0))
end

function init(args)
  math.randomseed(os.time() + (thread_id or 0))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
  local body = '[{"taskType":"videoInference","taskUUID":"' .. uuid4() ..
    '","model":"pixverse:1@3","positivePrompt":"a lighthouse on a cliff at sunset, cinematic","resolution":"720p","duration":5}]'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    errors_seen = (errors_seen or 0) + 1
    if errors_seen < 3 then print("non-200: " .. status .. " " .. body) end
  end
end
