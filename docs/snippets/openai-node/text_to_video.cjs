// Text to video with the official OpenAI Node SDK (npm install openai@7.60.0), pointed at cinefuse.
// Usage: node text_to_video.cjs
const fs = require("node:fs");
const OpenAI = require("openai");

const client = new OpenAI({
  baseURL: (process.env.CINEFUSE_URL || "http://127.0.0.1:8000") + "/v1",
  apiKey: process.env.CINEFUSE_API_KEY,
});

async function main() {
  let video = await client.videos.create({
    model: "sora-2",
    prompt: "a lighthouse on a cliff at sunset, waves crashing, cinematic",
    seconds: "4",
    size: "640x360",
  });
  while (video.status === "queued" || video.status === "in_progress") {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    video = await client.videos.retrieve(video.id);
  }
  if (video.status !== "completed") throw new Error(`video ${video.id} ${video.status}: ${JSON.stringify(video.error)}`);
  const content = await client.videos.downloadContent(video.id);
  fs.writeFileSync("clip.mp4", Buffer.from(await content.arrayBuffer()));
  console.log(`wrote clip.mp4 (${video.seconds} s, ${video.size})`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
