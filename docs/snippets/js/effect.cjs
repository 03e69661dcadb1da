// An effect on a photo with the official JavaScript SDK (npm install @runware/sdk-js@1.3.2), pointed at cinefuse.
// Usage: node effect.cjs photo.png
const fs = require("node:fs");
const crypto = require("node:crypto");
const { Runware } = require("@runware/sdk-js");

const url = (process.env.CINEFUSE_URL || "http://127.0.0.1:8000").replace(/^http/, "ws") + "/v1";
const dataUri = (path) => "data:image/png;base64," + fs.readFileSync(path).toString("base64");

async function main() {
  const runware = new Runware({ apiKey: process.env.CINEFUSE_API_KEY, url });
  try {
    const task = {
      taskUUID: crypto.randomUUID(),
      model: "pixverse:1@3",
      positivePrompt: "the scene bursts into motion",
      providerSettings: { pixverse: { effect: "boom drop" } },
      inputs: { frameImages: [dataUri(process.argv[2])] },
      resolution: "360p",
      duration: 5,
      numberResults: 1,
    };
    // Submits (async delivery), then polls getResponse until every result succeeded.
    const [video] = await runware.videoInference(task);
    const response = await fetch(video.videoURL);
    fs.writeFileSync("clip.mp4", Buffer.from(await response.arrayBuffer()));
    console.log(`wrote clip.mp4 (seed ${video.seed})`);
  } finally {
    await runware.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
