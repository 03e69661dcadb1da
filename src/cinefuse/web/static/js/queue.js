// The live queue: one entry per submitted task with a progress bar per result, and the
// poller that asks the server for progress (getResponse about once a second; the
// WebSocket also pushes finished results on its own).
//
// Entries are updated in place (keyed by taskUUID), so a focused Cancel button keeps its
// focus. The list is a polite live region: it announces entries and status words, not
// every percent.

import { h, setText, shorten } from "./dom.js";
import { finishedCount, slots } from "./history.js";

/** How long a task that finished cleanly stays in the queue (ms). */
const LINGER_MS = 4000;
const POLL_MS = 1000;
/** Failed tasks stay in the queue until dismissed, if they ended while this page was open. */
const OPENED_AT = Date.now();

const STATE_WORDS = {
  processing: "Rendering",
  success: "Done",
  expired: "Expired",
  cancelled: "Cancelled",
  error: "Failed",
  missing: "Unknown to the server",
};

function describe(request) {
  const size = request.width ? `${request.width}×${request.height}` : request.resolution || "";
  return [request.model, size, request.duration ? `${request.duration} s` : "", request.fps ? `${request.fps} fps` : ""]
    .filter(Boolean)
    .join(" · ");
}

function statusOf(record) {
  if (record.status === "submitting") return "Sending…";
  if (record.status === "missing") return STATE_WORDS.missing;
  const all = slots(record);
  if (record.status === "active") {
    if (record.cancelling) return "Cancelling…";
    const started = all.some((s) => s.state === "processing" && s.progress > 0) || finishedCount(record) > 0;
    return started ? "Rendering" : "Queued";
  }
  const states = new Set(all.map((s) => s.state));
  if (states.size === 1) return STATE_WORDS[[...states][0]];
  if (states.has("error")) return "Finished with errors";
  if (states.has("cancelled")) return "Partly cancelled";
  return "Done";
}

export class QueueView {
  /**
   * @param {HTMLElement} list the <ol>
   * @param {HTMLElement} empty shown when the list is empty
   * @param {object} actions `{cancel(record), dismiss(record)}`
   */
  constructor(list, empty, actions) {
    this.list = list;
    this.empty = empty;
    this.actions = actions;
    this.entries = new Map();
    this.lingerTimer = 0;
  }

  _visible(record, now) {
    if (record.dismissed) return false;
    if (record.status === "submitting" || record.status === "active") return true;
    if (record.status === "missing" || !record.finishedAt || record.finishedAt < OPENED_AT) return false;
    const clean = slots(record).every((s) => s.state === "success" || s.state === "expired");
    return !clean || now - record.finishedAt < LINGER_MS;
  }

  /** Show `records` (newest first) that belong in the queue. */
  render(records) {
    const now = Date.now();
    const shown = records.filter((r) => this._visible(r, now));
    const keep = new Set(shown.map((r) => r.taskUUID));
    for (const [uuid, entry] of this.entries) {
      if (!keep.has(uuid)) {
        entry.root.remove();
        this.entries.delete(uuid);
      }
    }
    let previous = null;
    for (const record of shown) {
      let entry = this.entries.get(record.taskUUID);
      if (!entry) {
        entry = this._create(record);
        this.entries.set(record.taskUUID, entry);
      }
      this._update(entry, record);
      const wanted = previous ? previous.nextSibling : this.list.firstChild;
      if (wanted !== entry.root) this.list.insertBefore(entry.root, wanted);
      previous = entry.root;
    }
    this.empty.hidden = shown.length > 0;
    clearTimeout(this.lingerTimer);
    const lingering = shown.filter((r) => r.status === "done" && r.finishedAt && now - r.finishedAt < LINGER_MS);
    if (lingering.length) this.lingerTimer = setTimeout(() => this.render(records), LINGER_MS);
  }

  _create(record) {
    const title = h("p", { class: "qi-title" }, shorten(record.request.positivePrompt, 90));
    const status = h("span", { class: "qi-status" });
    const meta = h("p", { class: "qi-meta" }, describe(record.request));
    const bars = h("ol", { class: "qi-results" });
    const errors = h("ul", { class: "qi-errors" });
    const cancel = h(
      "button",
      { type: "button", class: "btn small danger", onclick: () => this.actions.cancel(record.taskUUID) },
      "Cancel",
    );
    const dismiss = h(
      "button",
      { type: "button", class: "btn small ghost", onclick: () => this.actions.dismiss(record.taskUUID) },
      "Dismiss",
    );
    cancel.setAttribute("aria-label", `Cancel “${shorten(record.request.positivePrompt, 40)}”`);
    dismiss.setAttribute("aria-label", `Dismiss “${shorten(record.request.positivePrompt, 40)}”`);
    const root = h(
      "li",
      { class: "queue-item", dataset: { task: record.taskUUID } },
      h("div", { class: "qi-head" }, title, status),
      meta,
      bars,
      errors,
      h("div", { class: "qi-actions" }, cancel, dismiss),
    );
    return { root, status, bars, errors, cancel, dismiss, rows: [] };
  }

  _update(entry, record) {
    const all = slots(record);
    const word = statusOf(record);
    setText(entry.status, word);
    entry.root.dataset.status = record.status;
    while (entry.rows.length < all.length) {
      const i = entry.rows.length;
      const id = `q-${record.taskUUID.slice(0, 8)}-${i}`;
      const bar = h("progress", { max: "100", value: "0", id, "aria-label": `Result ${i + 1} of ${all.length}` });
      const pct = h("span", { class: "qi-pct", "aria-hidden": "true" });
      const row = h("li", { class: "qi-result" }, h("span", { class: "qi-label", "aria-hidden": "true" }, `#${i + 1}`), bar, pct);
      entry.bars.append(row);
      entry.rows.push({ row, bar, pct });
    }
    all.forEach((slot, i) => {
      const { row, bar, pct } = entry.rows[i];
      const value = slot.state === "processing" ? slot.progress : 100;
      if (Number(bar.value) !== value) bar.value = value;
      bar.setAttribute("aria-valuetext", slot.state === "processing" ? `${value}%` : STATE_WORDS[slot.state]);
      row.dataset.state = slot.state;
      setText(pct, slot.state === "processing" ? `${value}%` : STATE_WORDS[slot.state]);
    });
    const failures = all.filter((s) => s.state === "error" || s.state === "cancelled").map((s) => s.item);
    const messages = [...new Set(failures.map((item) => item.code === "taskCancelled" ? "Cancelled before it finished." : `${item.message || item.code}`))];
    entry.errors.replaceChildren(...messages.map((message) => h("li", {}, message)));
    const running = record.status === "active" || record.status === "submitting";
    entry.cancel.hidden = !running;
    entry.cancel.disabled = Boolean(record.cancelling) || record.status === "submitting";
    entry.dismiss.hidden = running;
  }
}

/** Polls getResponse for every active task, one request per task in flight. */
export class Poller {
  constructor(store, client) {
    this.store = store;
    this.client = client;
    this.inFlight = new Set();
    this.timer = 0;
  }

  start() {
    this.stop();
    this.timer = setInterval(() => this.tick(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
  }

  tick() {
    for (const record of this.store.active()) this.poll(record.taskUUID);
  }

  /** One getResponse for a task (skipped while one is in flight). */
  async poll(taskUUID) {
    if (this.inFlight.has(taskUUID)) return;
    this.inFlight.add(taskUUID);
    try {
      await this.client.send({ taskType: "getResponse", taskUUID });
    } catch {
      // the next tick asks again
    } finally {
      this.inFlight.delete(taskUUID);
    }
  }

  /** Refresh every task of the history, a few at a time. */
  async refreshAll(records, parallel = 6) {
    const queue = records.filter((r) => r.status !== "missing" && r.status !== "submitting").map((r) => r.taskUUID);
    const worker = async () => {
      while (queue.length) await this.poll(queue.shift());
    };
    await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
  }
}

