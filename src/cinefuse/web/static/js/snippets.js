// The request behind a video, as code: the exact JSON, and runnable curl, Python (httpx)
// and Runware SDK versions of it. The runnable ones give the task a fresh taskUUID (a
// taskUUID can be used once per key) and read the key from $CINEFUSE_API_KEY: a copied
// snippet never carries the key.

/** The exact task JSON, pretty-printed. */
export function requestJson(task) {
  return JSON.stringify(task, null, 2);
}

/** A Python literal for a JSON value (True/False/None, double-quoted strings). */
export function pythonLiteral(value, indent = 0) {
  const pad = "    ".repeat(indent + 1);
  const end = "    ".repeat(indent);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "None";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return `[\n${value.map((v) => pad + pythonLiteral(v, indent + 1)).join(",\n")},\n${end}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${pythonLiteral(v, indent + 1)}`).join(",\n")},\n${end}}`;
}

function withoutUuid(task) {
  const { taskUUID: _unused, ...rest } = task;
  return rest;
}

function shellQuote(text) {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A shell script: submit with curl, then poll getResponse until no result is processing. */
export function curlSnippet(task, restUrl) {
  const body = JSON.stringify([{ ...task, taskUUID: "__TASK_UUID__" }], null, 2);
  const [before, after] = shellQuote(body).split("__TASK_UUID__");
  return [
    "# Needs CINEFUSE_API_KEY in the environment; the task gets a fresh taskUUID.",
    "TASK_UUID=$(python3 -c 'import uuid; print(uuid.uuid4())')",
    `curl -s ${shellQuote(restUrl)} \\`,
    `  -H "Authorization: Bearer $CINEFUSE_API_KEY" \\`,
    "  -H 'Content-Type: application/json' \\",
    `  -d ${before}'"$TASK_UUID"'${after}`,
    "",
    "# Then poll until the results are finished:",
    `curl -s ${shellQuote(restUrl)} \\`,
    `  -H "Authorization: Bearer $CINEFUSE_API_KEY" \\`,
    `  -d '[{"taskType":"getResponse","taskUUID":"'"$TASK_UUID"'"}]'`,
    "",
  ].join("\n");
}

/** A Python script using httpx over REST. */
export function httpxSnippet(task, restUrl) {
  return `# pip install httpx; needs CINEFUSE_API_KEY in the environment.
import os
import time
import uuid

import httpx

URL = ${JSON.stringify(restUrl)}
TASK = ${pythonLiteral(withoutUuid(task))}

task = {**TASK, "taskUUID": str(uuid.uuid4())}
headers = {"Authorization": f"Bearer {os.environ['CINEFUSE_API_KEY']}"}
with httpx.Client(headers=headers, timeout=60) as client:
    reply = client.post(URL, json=[task]).json()
    if reply.get("errors"):
        raise SystemExit(reply["errors"])
    while True:
        reply = client.post(URL, json=[{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]).json()
        items = reply.get("data", []) + reply.get("errors", [])
        if all(item.get("status") != "processing" for item in items):
            break
        time.sleep(1)
for item in items:
    print(item.get("videoURL") or item)
`;
}

/** A Python script using the Runware SDK (PyPI \`runware-sdk\`) over the WebSocket. */
export function sdkSnippet(task, restUrl, wsUrl) {
  return `# pip install runware-sdk; needs CINEFUSE_API_KEY in the environment.
import asyncio
import os
import uuid

from runware import Runware

TASK = ${pythonLiteral(withoutUuid(task))}


async def main() -> None:
    client = Runware(
        api_key=os.environ["CINEFUSE_API_KEY"],
        transport="websocket",
        ws_base_url=${JSON.stringify(wsUrl)},
        http_base_url=${JSON.stringify(restUrl)},
    )
    await client.connect()
    try:
        videos = await client.run({**TASK, "taskUUID": str(uuid.uuid4())})
        for video in videos:
            print(video.get("videoURL"))
    finally:
        await client.close()


asyncio.run(main())
`;
}

/** The snippet kinds the gallery offers: key -> {label, title, make(task, urls)}. */
export const SNIPPETS = {
  json: { label: "JSON", title: "Request JSON", make: (task) => requestJson(task) },
  curl: { label: "curl", title: "curl", make: (task, urls) => curlSnippet(task, urls.rest) },
  python: { label: "Python", title: "Python (httpx)", make: (task, urls) => httpxSnippet(task, urls.rest) },
  sdk: { label: "Runware SDK", title: "Runware SDK (runware-sdk)", make: (task, urls) => sdkSnippet(task, urls.rest, urls.ws) },
};
