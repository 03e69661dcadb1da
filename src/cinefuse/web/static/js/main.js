// The studio's entry point: loads the model catalog, signs in, and wires the form, the
// queue, the gallery and the history to the connection.

import { ApiError, AuthError, StudioClient } from "./api.js";
import { byId, copyText, setText, toast } from "./dom.js";
import { StudioForm } from "./form.js";
import { GalleryView } from "./gallery.js";
import { TaskStore, keyFingerprint } from "./history.js";
import { loadModels } from "./models.js";
import { Poller, QueueView } from "./queue.js";
import { SNIPPETS } from "./snippets.js";

// Where the signed-in key is kept: sessionStorage (this tab, until it closes) unless the user
// ticks "Remember on this device", then localStorage (this browser, until sign-out). The
// default is the session: a key is a credential, kept past the tab only when asked.
const KEY_STORAGE = "cinefuse.apiKey";
const keyStores = [window.sessionStorage, window.localStorage];

function keepKey(apiKey, remember) {
  forgetKey();
  (remember ? window.localStorage : window.sessionStorage).setItem(KEY_STORAGE, apiKey);
}

function forgetKey() {
  for (const storage of keyStores) storage.removeItem(KEY_STORAGE);
}

/** The key kept by an earlier sign-in, and whether it was remembered (localStorage). */
function keptKey() {
  const session = window.sessionStorage.getItem(KEY_STORAGE);
  if (session) return { apiKey: session, remember: false };
  const remembered = window.localStorage.getItem(KEY_STORAGE);
  return remembered ? { apiKey: remembered, remember: true } : null;
}

const base = document.baseURI;
const STATE_LABELS = {
  connecting: "Connecting…",
  websocket: "Live · WebSocket",
  rest: "REST fallback",
  reconnecting: "Reconnecting…",
};

const store = new TaskStore();
let form = null;
let signedIn = false;
let currentKey = null;

const connection = byId("connection");
const client = new StudioClient({
  base,
  // Every frame the server sends updates the history (replies and pushed results alike).
  onFrame: (data, errors) => store.applyFrame(data, errors),
  onState: (state) => {
    connection.dataset.state = state;
    connection.title = STATE_LABELS[state] || state;
    setText(connection.querySelector(".conn-label"), STATE_LABELS[state] || state);
  },
  onSignedOut: (error) => signOut(`The server no longer accepts this API key (${error.code}). Sign in again.`),
});

const poller = new Poller(store, client);
const queue = new QueueView(byId("queue-list"), byId("queue-empty"), {
  cancel: (uuid) => cancelTask(uuid),
  dismiss: (uuid) => {
    const record = store.get(uuid);
    if (record) {
      record.dismissed = true;
      store.changed(record);
    }
    byId("queue-title").focus();
  },
});
const gallery = new GalleryView(byId("gallery-list"), byId("gallery-empty"), {
  reuse: (uuid) => {
    const record = store.get(uuid);
    if (!record || !form) return;
    form.fill(record.request, record.images);
    form.focusPrompt();
    toast("Settings loaded into the form.");
  },
  remove: (uuid) => {
    store.remove(uuid);
    byId("gallery-title").focus();
    toast("Removed from the history.");
  },
  snippet: (uuid, kind, button) => showSnippet(uuid, kind, button),
});

let renderQueued = false;
store.subscribe(() => {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    const records = store.list();
    queue.render(records);
    gallery.render(records);
    const running = records.filter((r) => r.status === "active" || r.status === "submitting").length;
    setText(byId("queue-count"), running ? String(running) : "");
  });
});

function urls() {
  return { rest: client.restUrl, ws: client.wsUrl };
}

// ---------------------------------------------------------------- snippets dialog

const dialog = byId("code-dialog");
let dialogOpener = null;

async function showSnippet(uuid, kind, opener) {
  const record = store.get(uuid);
  if (!record) return;
  const snippet = SNIPPETS[kind];
  const text = snippet.make(record.request, urls());
  setText(byId("code-dialog-title"), snippet.title);
  setText(byId("code-dialog-text"), text);
  const copied = await copyText(text);
  setText(byId("code-dialog-note"), copied ? "Copied to the clipboard." : "Select the text and copy it.");
  dialogOpener = opener;
  dialog.showModal();
  byId("code-dialog-copy").focus();
}

byId("code-dialog-copy").addEventListener("click", async () => {
  const copied = await copyText(byId("code-dialog-text").textContent);
  setText(byId("code-dialog-note"), copied ? "Copied to the clipboard." : "Your browser did not allow copying: select the text.");
});
dialog.addEventListener("close", () => {
  if (dialogOpener && dialogOpener.isConnected) dialogOpener.focus();
});

// ---------------------------------------------------------------- tasks

async function submit() {
  form.clearErrors();
  const built = form.build();
  if (built.problem) {
    form.showGeneral(built.problem);
    return;
  }
  const { task, fields, images } = built;
  store.add({ taskUUID: task.taskUUID, request: task, createdAt: Date.now(), images, status: "submitting" });
  form.setBusy(true);
  try {
    const reply = await client.send(task);
    const refused = reply.errors.filter((e) => e.code !== "conflictTaskUUID");
    if (refused.length) {
      store.remove(task.taskUUID);
      form.showErrors(refused, fields);
      return;
    }
    const record = store.get(task.taskUUID);
    if (record && record.status === "submitting") {
      record.status = "active";
      store.changed(record);
    }
    toast("Queued.");
    poller.poll(task.taskUUID);
  } catch (error) {
    store.remove(task.taskUUID);
    if (!(error instanceof AuthError)) form.showGeneral(`Not sent: ${error.message}`);
  } finally {
    form.setBusy(false);
  }
}

async function cancelTask(uuid) {
  const record = store.get(uuid);
  if (!record) return;
  record.cancelling = true;
  store.changed(record);
  try {
    await client.send({ taskType: "cancelTask", taskUUID: uuid });
    toast("Cancelling…");
    poller.poll(uuid);
  } catch (error) {
    record.cancelling = false;
    store.changed(record);
    toast(`Could not cancel: ${error.message}`);
  }
}

async function upload(task) {
  const reply = await client.send(task);
  if (reply.errors.length) throw new ApiError(reply.errors[0]);
  return reply;
}

// ---------------------------------------------------------------- session

function show(studio) {
  byId("sign-in").hidden = studio;
  byId("studio").hidden = !studio;
  byId("session").hidden = !studio;
  byId("jump").hidden = !studio;
}

// remember: keep the key in this browser, not only this tab; restored: the key is the one an
// earlier sign-in kept (the focus stays where it is).
async function signIn(apiKey, remember, restored = false) {
  const button = byId("sign-in-button");
  const error = byId("err-apiKey");
  button.disabled = true;
  setText(error, "");
  try {
    await client.signIn(apiKey);
  } catch (failure) {
    button.disabled = false;
    const refused = failure instanceof AuthError;
    if (refused) forgetKey(); // a kept key that stopped working
    show(false);
    setText(error, refused ? "This API key is not valid on this server." : `Cannot reach the server: ${failure.message}`);
    byId("api-key").setAttribute("aria-invalid", "true");
    byId("api-key").focus();
    return;
  }
  button.disabled = false;
  byId("api-key").value = "";
  byId("api-key").removeAttribute("aria-invalid");
  byId("remember-key").checked = false;
  keepKey(apiKey, remember);
  signedIn = true;
  currentKey = apiKey;
  store.open(keyFingerprint(apiKey));
  show(true);
  poller.start();
  await importApiVideos(apiKey);
  poller.refreshAll(store.list());
  if (!restored) byId("prompt").focus();
}

function signOut(message = "") {
  signedIn = false;
  currentKey = null;
  poller.stop();
  client.close();
  store.close();
  if (form) form.clearImages();
  forgetKey();
  show(false);
  setText(byId("err-apiKey"), message);
  byId("api-key").focus();
}

byId("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = byId("api-key").value.trim();
  if (!key) {
    setText(byId("err-apiKey"), "Enter an API key.");
    byId("api-key").focus();
    return;
  }
  signIn(key, byId("remember-key").checked);
});
byId("sign-out").addEventListener("click", () => signOut());
byId("refresh-history").addEventListener("click", async () => {
  if (!signedIn) return;
  await importApiVideos(currentKey);
  await poller.refreshAll(store.list());
  toast("History refreshed.");
});

// ---------------------------------------------------------------- the OpenAI-style API's videos

/** The task UUID of a `/v1/videos` video: its id is `video_` and the UUID's 32 hex digits. */
function taskOfVideo(id) {
  const hex = id.replace(/^video_/, "");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Videos made through `/v1/videos` (docs/openai.md) join the history: the newest 100 this key
 * has that the history does not, each a record that getResponse then fills in like the
 * studio's own (a video is one task of one result).
 */
async function importApiVideos(apiKey) {
  let body;
  try {
    const response = await fetch(new URL("v1/videos?limit=100", base), { headers: { Authorization: `Bearer ${apiKey}` } });
    if (!response.ok) return [];
    body = await response.json();
  } catch {
    return []; // the history still works without them
  }
  const added = [];
  for (const video of [...body.data].reverse()) {
    const taskUUID = taskOfVideo(video.id);
    if (store.get(taskUUID)) continue;
    const [width, height] = String(video.size).split("x").map(Number);
    const request = {
      taskType: "videoInference",
      taskUUID,
      model: video.model,
      positivePrompt: video.prompt || "",
      width,
      height,
      duration: Number(video.seconds),
      numberResults: 1,
      outputFormat: "MP4",
    };
    // Finished before this page opened: the gallery shows it, the queue does not linger on it.
    const finishedAt = video.completed_at ? video.completed_at * 1000 : undefined;
    added.push(
      store.add({ taskUUID, request, createdAt: video.created_at * 1000, finishedAt, images: {}, status: "active", origin: "/v1/videos" }),
    );
  }
  return added;
}

// ---------------------------------------------------------------- start

async function start() {
  let catalog;
  try {
    catalog = await loadModels(base);
  } catch (error) {
    setText(byId("err-apiKey"), `The studio cannot load the model list: ${error.message}`);
    return;
  }
  form = new StudioForm({ catalog, upload, onSubmit: () => submit() });
  document.body.dataset.ready = "true";
  const kept = keptKey();
  if (kept) await signIn(kept.apiKey, kept.remember, true);
  else byId("api-key").focus();
}

start();
