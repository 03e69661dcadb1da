// The tasks this browser submitted: kept in localStorage (task UUIDs, the exact request
// JSON, the images used, the last results seen), one list per API key, and updated from
// every reply and push of the server.
//
// A record: {taskUUID, request, createdAt, images, status, results, progress, dismissed}
//   status: "submitting" (no acknowledgement yet), "active" (results outstanding),
//           "done" (every result finished), "missing" (the server does not know it)
//   results: videoUUID -> the last finished item (success or error) of that result
//   progress: the progress of the results still processing, in order

const STORAGE_PREFIX = "cinefuse.history.";
const MAX_RECORDS = 200;
const SEED_MODULUS = 2147483648;

/** A short, non-reversible tag of an API key: histories are kept apart per key. */
export function keyFingerprint(apiKey) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < apiKey.length; i++) {
    hash ^= apiKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** A result's signed URL whose `expires` has passed (or none: the ttl swept the file). */
export function isExpired(item, now = Date.now()) {
  if (item.status !== "success") return false;
  if (!item.videoURL) return true;
  try {
    const expires = Number(new URL(item.videoURL).searchParams.get("expires"));
    return Boolean(expires) && expires * 1000 <= now;
  } catch {
    return false;
  }
}

export function resultCount(record) {
  return Math.max(1, Number(record.request.numberResults) || 1);
}

/**
 * One slot per requested result, in order: `{state, item, progress}` with state
 * "processing", "success", "expired", "cancelled", "error" or "missing". Results finish in
 * order, so finished ones come first; a success's place follows from its seed.
 */
export function slots(record) {
  const count = resultCount(record);
  const out = new Array(count).fill(null);
  const seed = record.request.seed;
  const rest = [];
  for (const item of Object.values(record.results)) {
    if (item.status === "success" && Number.isInteger(seed) && Number.isInteger(item.seed)) {
      const index = (((item.seed - seed) % SEED_MODULUS) + SEED_MODULUS) % SEED_MODULUS;
      if (index < count && !out[index]) {
        out[index] = item;
        continue;
      }
    }
    rest.push(item);
  }
  for (const item of rest) {
    const free = out.indexOf(null);
    if (free >= 0) out[free] = item;
  }
  let waiting = 0;
  return out.map((item) => {
    if (!item) {
      if (record.status === "missing") return { state: "missing", item: null, progress: 0 };
      return { state: "processing", item: null, progress: Number(record.progress[waiting++]) || 0 };
    }
    if (item.status === "success") return { state: isExpired(item) ? "expired" : "success", item, progress: 100 };
    return { state: item.code === "taskCancelled" ? "cancelled" : "error", item, progress: 100 };
  });
}

export function finishedCount(record) {
  return Object.keys(record.results).length;
}

export class TaskStore {
  constructor(storage = window.localStorage) {
    this.storage = storage;
    this.key = null;
    this.records = new Map();
    this.listeners = new Set();
    this.saveTimer = 0;
  }

  /** Load the history of the key with this fingerprint. */
  open(fingerprint) {
    this.key = STORAGE_PREFIX + fingerprint;
    this.records = new Map();
    let saved = [];
    try {
      saved = JSON.parse(this.storage.getItem(this.key) || "[]");
    } catch {
      saved = [];
    }
    for (const record of Array.isArray(saved) ? saved : []) {
      if (!record || typeof record.taskUUID !== "string" || !record.request) continue;
      record.results = record.results || {};
      record.progress = record.progress || [];
      record.images = record.images || {};
      if (record.status === "submitting") record.status = "active";
      this.records.set(record.taskUUID, record);
    }
    this._notify(null);
  }

  /** Forget the loaded history (sign out); it stays saved for the next sign-in. */
  close() {
    this._flush();
    this.key = null;
    this.records = new Map();
    this._notify(null);
  }

  subscribe(listener) {
    this.listeners.add(listener);
  }

  /** Newest first. */
  list() {
    return [...this.records.values()].reverse();
  }

  get(taskUUID) {
    return this.records.get(taskUUID) || null;
  }

  active() {
    return [...this.records.values()].filter((r) => r.status === "active");
  }

  add(record) {
    const full = { results: {}, progress: [], images: {}, dismissed: false, ...record };
    this.records.set(full.taskUUID, full);
    while (this.records.size > MAX_RECORDS) this.records.delete(this.records.keys().next().value);
    this.changed(full);
    return full;
  }

  remove(taskUUID) {
    if (this.records.delete(taskUUID)) this.changed(null);
  }

  clear() {
    this.records.clear();
    this.changed(null);
  }

  /** Save soon and tell the views. */
  changed(record) {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this._flush(), 250);
    this._notify(record);
  }

  /**
   * Apply one frame (or REST reply) of the server: result items update their records;
   * `taskNotFound` for a getResponse marks the record missing.
   */
  applyFrame(data, errors) {
    const touched = new Set();
    const processing = new Map();
    for (const item of data) {
      const record = this.records.get(item.taskUUID);
      if (!record || item.taskType !== "videoInference" || !("status" in item)) continue;
      if (!processing.has(record)) processing.set(record, []);
      if (item.status === "processing") processing.get(record).push(item.progress || 0);
      else if (item.videoUUID) record.results[item.videoUUID] = item;
      touched.add(record);
    }
    for (const [record, progress] of processing) record.progress = progress;
    for (const item of errors) {
      const record = this.records.get(item.taskUUID);
      if (!record) continue;
      if (item.taskType === "getResponse" && item.code === "taskNotFound") {
        record.status = "missing";
        touched.add(record);
      } else if (item.taskType === "videoInference" && item.status === "error") {
        record.results[item.videoUUID || `error-${finishedCount(record)}`] = item;
        touched.add(record);
      }
    }
    for (const record of touched) {
      if (record.status !== "missing" && record.status !== "submitting") {
        record.status = finishedCount(record) >= resultCount(record) ? "done" : "active";
      }
      if (record.status === "done" && !record.finishedAt) record.finishedAt = Date.now();
      this.changed(record);
    }
  }

  _flush() {
    clearTimeout(this.saveTimer);
    if (!this.key) return;
    const records = [...this.records.values()].map((record) => ({ ...record }));
    try {
      this.storage.setItem(this.key, JSON.stringify(records));
    } catch {
      // Full storage: keep the newest half.
      try {
        this.storage.setItem(this.key, JSON.stringify(records.slice(Math.floor(records.length / 2))));
      } catch {
        // nothing more to do: the history is a convenience
      }
    }
  }

  _notify(record) {
    for (const listener of this.listeners) listener(record);
  }
}
