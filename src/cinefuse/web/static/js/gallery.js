// The gallery: one card per finished task, newest first, with an inline player per result
// (poster frame grabbed in the browser), a download link, the request behind it as code,
// and "reuse settings". Cards and players are updated in place, so a playing video keeps
// playing while the history refreshes.

import { h, setText, shorten } from "./dom.js";
import { slots } from "./history.js";
import { SNIPPETS } from "./snippets.js";

const POSTER_WIDTH = 480;
const POSTER_AT_S = 1.0;
const posters = new Map();
const posterQueue = [];
let postersRunning = 0;

/** A frame of the video at `url`, as a blob URL (null when it cannot be read, e.g. cross-origin). */
function grabFrame(url) {
  return new Promise((resolve) => {
    const video = document.createElement("video");
    video.muted = true;
    video.preload = "auto";
    video.playsInline = true;
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      video.removeAttribute("src");
      video.load();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), 15000);
    video.addEventListener("error", () => finish(null));
    video.addEventListener("loadedmetadata", () => {
      video.currentTime = Math.min(POSTER_AT_S, (video.duration || 0) / 2);
    });
    video.addEventListener("seeked", () => {
      try {
        const scale = POSTER_WIDTH / Math.max(1, video.videoWidth);
        const canvas = document.createElement("canvas");
        canvas.width = Math.round(video.videoWidth * Math.min(1, scale));
        canvas.height = Math.round(video.videoHeight * Math.min(1, scale));
        canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
        canvas.toBlob((blob) => finish(blob ? URL.createObjectURL(blob) : null), "image/jpeg", 0.85);
      } catch {
        finish(null); // a tainted canvas (media on another origin without CORS)
      }
    });
    video.src = url;
  });
}

function runPosters() {
  while (postersRunning < 2 && posterQueue.length) {
    const job = posterQueue.shift();
    postersRunning++;
    grabFrame(job.url).then((poster) => {
      postersRunning--;
      posters.set(job.key, poster);
      job.resolve(poster);
      runPosters();
    });
  }
}

/** The poster of a result (cached by videoUUID; a few grabs at a time). */
function posterFor(key, url) {
  if (posters.has(key)) return Promise.resolve(posters.get(key));
  return new Promise((resolve) => {
    posterQueue.push({ key, url, resolve });
    runPosters();
  });
}

function chips(request, record) {
  const size = request.width ? `${request.width}×${request.height}` : request.resolution;
  const provider = request.providerSettings ? Object.values(request.providerSettings)[0] || {} : {};
  const list = [
    request.model,
    size,
    request.duration !== undefined ? `${request.duration} s${request.fps ? ` · ${request.fps} fps` : ""}` : null,
    request.seed !== undefined ? `seed ${request.seed}` : null,
    request.outputFormat,
    provider.cameraMovement && `camera ${provider.cameraMovement}`,
    provider.effect && `effect ${provider.effect}`,
    provider.style && `style ${provider.style}`,
    provider.motionMode && `motion ${provider.motionMode}`,
    request.inputs && request.inputs.frameImages && `${request.inputs.frameImages.length} frame image${request.inputs.frameImages.length > 1 ? "s" : ""}`,
    request.inputs && request.inputs.referenceImages && `${request.inputs.referenceImages.length} reference${request.inputs.referenceImages.length > 1 ? "s" : ""}`,
  ];
  const cost = Object.values(record.results).reduce((sum, item) => sum + (Number(item.cost) || 0), 0);
  if (cost > 0) list.push(`$${cost.toFixed(4)}`);
  return list.filter(Boolean).map((text) => h("li", {}, text));
}

export class GalleryView {
  /**
   * @param {HTMLElement} list the <ul>
   * @param {HTMLElement} empty shown when the list is empty
   * @param {object} actions `{reuse(uuid), remove(uuid), snippet(uuid, kind, button)}`
   */
  constructor(list, empty, actions) {
    this.list = list;
    this.empty = empty;
    this.actions = actions;
    this.cards = new Map();
  }

  /** Records shown: any with a finished or expired video, every finished one, and unknown ones. */
  static shows(record) {
    if (record.status === "done" || record.status === "missing") return true;
    return slots(record).some((s) => s.state === "success" || s.state === "expired");
  }

  render(records) {
    const shown = records.filter((record) => GalleryView.shows(record));
    const keep = new Set(shown.map((r) => r.taskUUID));
    for (const [uuid, card] of this.cards) {
      if (!keep.has(uuid)) {
        card.root.remove();
        this.cards.delete(uuid);
      }
    }
    let previous = null;
    for (const record of shown) {
      let card = this.cards.get(record.taskUUID);
      if (!card) {
        card = this._create(record);
        this.cards.set(record.taskUUID, card);
      }
      this._update(card, record);
      const wanted = previous ? previous.nextSibling : this.list.firstChild;
      if (wanted !== card.root) this.list.insertBefore(card.root, wanted);
      previous = card.root;
    }
    this.empty.hidden = shown.length > 0;
  }

  _create(record) {
    const uuid = record.taskUUID;
    const request = record.request;
    const media = h("div", { class: "card-media" });
    const titleId = `card-${uuid.slice(0, 8)}`;
    const snippetButtons = Object.entries(SNIPPETS).map(([kind, snippet]) =>
      h(
        "button",
        {
          type: "button",
          class: "btn tiny",
          dataset: { snippet: kind },
          "aria-label": `Copy the request as ${snippet.title}`,
          onclick: (event) => this.actions.snippet(uuid, kind, event.currentTarget),
        },
        snippet.label,
      ),
    );
    const status = h("p", { class: "card-status" });
    const root = h(
      "li",
      { class: "card", dataset: { task: uuid }, "aria-labelledby": titleId },
      media,
      h(
        "div",
        { class: "card-body" },
        h("h3", { class: "card-prompt", id: titleId, title: request.positivePrompt }, shorten(request.positivePrompt, 140)),
        h("ul", { class: "chips" }, chips(request, record)),
        h("p", { class: "card-time" }, h("time", { datetime: new Date(record.createdAt).toISOString() }, new Date(record.createdAt).toLocaleString())),
        status,
        h(
          "div",
          { class: "card-actions" },
          h("button", { type: "button", class: "btn small", dataset: { action: "reuse" }, onclick: () => this.actions.reuse(uuid) }, "Reuse settings"),
          h(
            "button",
            {
              type: "button",
              class: "btn small ghost danger-text",
              dataset: { action: "remove" },
              "aria-label": `Remove “${shorten(request.positivePrompt, 40)}” from the history`,
              onclick: () => this.actions.remove(uuid),
            },
            "Remove",
          ),
        ),
        h(
          "div",
          { class: "copy-group", role: "group", "aria-labelledby": `${titleId}-copy` },
          h("span", { class: "copy-label", id: `${titleId}-copy` }, "Copy as"),
          snippetButtons,
        ),
      ),
    );
    return { root, media, status, chipList: root.querySelector(".chips"), tiles: [] };
  }

  _update(card, record) {
    const all = slots(record);
    card.media.classList.toggle("multi", all.length > 1);
    card.chipList.replaceChildren(...chips(record.request, record));
    setText(card.status, record.status === "missing" ? "This server does not know this task any more (its data was reset or it belongs to another key)." : "");
    all.forEach((slot, i) => {
      const url = slot.item && slot.item.videoURL;
      const key = `${slot.state}|${slot.state === "success" ? url : ""}|${slot.state === "processing" ? slot.progress : ""}`;
      const tile = card.tiles[i];
      if (tile && tile.key === key) return;
      const node = this._tile(record, slot, i, all.length);
      if (tile) tile.node.replaceWith(node);
      else card.media.append(node);
      card.tiles[i] = { key, node };
    });
  }

  _tile(record, slot, index, count) {
    const label = count > 1 ? `#${index + 1} · ` : "";
    if (slot.state === "success") {
      const item = slot.item;
      const format = (record.request.outputFormat || "MP4").toLowerCase();
      const video = h("video", {
        controls: true,
        preload: "metadata",
        playsinline: true,
        src: item.videoURL,
        "aria-label": `Video: ${shorten(record.request.positivePrompt, 60)}${count > 1 ? `, result ${index + 1}` : ""}`,
      });
      const note = h("p", { class: "tile-note", hidden: true });
      video.addEventListener("error", () => {
        const unsupported = video.error && video.error.code === 4 && format === "mov";
        note.textContent = unsupported
          ? "This browser cannot play MOV inline: download it."
          : "The video cannot be loaded: it may have expired.";
        note.hidden = false;
      });
      posterFor(item.videoUUID, item.videoURL).then((poster) => {
        if (poster && video.paused && video.currentTime === 0) video.poster = poster;
      });
      return h(
        "figure",
        { class: "tile success", dataset: { video: item.videoUUID } },
        h("div", { class: "tile-frame" }, video),
        note,
        h(
          "figcaption",
          { class: "tile-caption" },
          h("span", {}, `${label}seed ${item.seed}`),
          h("a", { class: "btn small", href: item.videoURL, download: `cinefuse-${item.videoUUID.slice(0, 8)}.${format}` }, "Download"),
        ),
      );
    }
    const words = {
      processing: `Rendering ${slot.progress}%`,
      expired: "Expired: the file was removed after its ttl.",
      cancelled: "Cancelled before it finished.",
      error: slot.item ? `${slot.item.code}: ${slot.item.message}` : "Failed.",
      missing: "Unknown to this server.",
    };
    return h(
      "div",
      { class: `tile placeholder ${slot.state}`, dataset: { state: slot.state } },
      h("div", { class: "tile-frame" }, h("p", {}, `${label}${words[slot.state]}`)),
    );
  }
}
