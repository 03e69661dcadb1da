// The /v1/videos flow through the unmodified `openai` Node SDK (7.x), run by
// tests/integration/test_openai_videos_node.py: node openai_videos.mjs BASE_URL KEY REFERENCE_PNG OUT_DIR
// It prints one JSON object with what it saw; the files it downloads go to OUT_DIR.
import fs from "node:fs";
import OpenAI, { toFile } from "openai";

const [baseURL, apiKey, referencePath, outDir] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey, maxRetries: 0 });
const SIZE = "640x360";

async function poll(id) {
  for (;;) {
    const video = await client.videos.retrieve(id);
    if (video.status === "completed" || video.status === "failed") return video;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function download(id, variant, name) {
  const response = await client.videos.downloadContent(id, { variant });
  fs.writeFileSync(`${outDir}/${name}`, Buffer.from(await response.arrayBuffer()));
}

const seen = {};
const created = await client.videos.create({ model: "sora-2", prompt: "a lighthouse at dusk", seconds: "4", size: SIZE });
seen.created = await poll(created.id);
seen.retrieved = await client.videos.retrieve(created.id);
const more = [];
for (let i = 0; i < 2; i++) more.push(await client.videos.create({ prompt: `a lighthouse at dusk, take ${i}`, size: SIZE }));
seen.more = more.map((video) => video.id);
seen.listed = [];
for await (const video of client.videos.list({ limit: 2, order: "asc" })) seen.listed.push(video.id); // every page
for (const id of seen.more) await poll(id);
await download(created.id, "video", "clip.mp4");
await download(created.id, "thumbnail", "thumbnail.webp");
await download(created.id, "spritesheet", "spritesheet.jpg");

const remix = await client.videos.remix(created.id, { prompt: "the same lighthouse in a snowstorm" });
seen.remix = await poll(remix.id);
const clip = await toFile(fs.readFileSync(`${outDir}/clip.mp4`), "clip.mp4", { type: "video/mp4" });
const extension = await client.videos.extend({ video: clip, prompt: "the camera keeps flying", seconds: "4" });
seen.extension = await poll(extension.id);
await download(extension.id, "video", "extension.mp4");

const image = await toFile(fs.readFileSync(referencePath), "reference.png", { type: "image/png" });
const referenced = await client.videos.create({ prompt: "a lighthouse at dusk", size: SIZE, input_reference: image });
seen.referenced = await poll(referenced.id);
await download(referenced.id, "video", "referenced.mp4");

seen.deleted = await client.videos.delete(created.id);
try {
  await client.videos.retrieve(created.id);
  seen.afterDelete = 200;
} catch (error) {
  seen.afterDelete = error.status;
}
try {
  await new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: "sk-nope", maxRetries: 0 }).videos.list();
  seen.badKey = 200;
} catch (error) {
  seen.badKey = error.status;
}
console.log(JSON.stringify(seen));
