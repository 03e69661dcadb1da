// The studio's connection to the server: the public task API, like any other client.
//
// WebSocket first (`GET /v1`, the first message authenticates); when the socket cannot be
// opened, or while it is reconnecting, every task goes over REST (`POST /v1` with
// `Authorization: Bearer`). The API key only ever travels in the authentication message
// or that header: never in a URL, and this module never logs it.
//
// Every frame the server sends (replies, and results it pushes on its own) is handed to
// `onFrame(data, errors)`; `send(task)` also resolves with the first reply to that task.

const OPEN_TIMEOUT_MS = 4000;
const AUTH_TIMEOUT_MS = 4000;
const REPLY_TIMEOUT_MS = 30000;
const UPLOAD_TIMEOUT_MS = 120000;
const PING_INTERVAL_MS = 100000;
const RECONNECT_MAX_MS = 30000;

/** An error item of the API (`code`, `message`, maybe `parameter`), as an exception. */
export class ApiError extends Error {
  constructor(item) {
    super(item.message || item.code || "The server refused the request.");
    this.name = "ApiError";
    this.code = item.code || "";
    this.parameter = item.parameter || null;
    this.item = item;
  }
}

/** The key was refused (`invalidApiKey` / `missingApiKey`). */
export class AuthError extends ApiError {
  constructor(item) {
    super(item);
    this.name = "AuthError";
  }
}

/** No reply: the network, the socket or the server is gone. */
export class NetworkError extends Error {
  constructor(message) {
    super(message);
    this.name = "NetworkError";
  }
}

const AUTH_CODES = new Set(["invalidApiKey", "missingApiKey"]);

/** The pending-request key an incoming item answers (see `send`). */
function replyKey(item) {
  const type = item.taskType;
  if (type === "videoInference" && "status" in item) return `getResponse:${item.taskUUID}`;
  return `${type}:${item.taskUUID}`;
}

function wsUrl(base) {
  const url = new URL("v1", base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export class StudioClient {
  /**
   * @param {object} options
   * @param {string} options.base the studio's base URL (its `/v1` is the API)
   * @param {(data: object[], errors: object[]) => void} options.onFrame every frame / REST reply received
   * @param {(state: string) => void} options.onState "connecting" | "websocket" | "rest" | "reconnecting"
   * @param {(error: AuthError) => void} options.onSignedOut the key stopped working
   */
  constructor({ base, onFrame, onState, onSignedOut }) {
    this.restUrl = new URL("v1", base).href;
    this.wsUrl = wsUrl(base);
    this.onFrame = onFrame;
    this.onState = onState;
    this.onSignedOut = onSignedOut;
    this.apiKey = null;
    this.socket = null;
    this.sessionUUID = null;
    this.pending = new Map();
    this.state = "connecting";
    this.closed = true;
    this.reconnectDelay = 1000;
    this.reconnectTimer = 0;
    this.pingTimer = 0;
  }

  _setState(state) {
    this.state = state;
    this.onState(state);
  }

  /**
   * Check `apiKey` and connect. Resolves once the key is accepted (over the socket, or over
   * REST when no socket can be opened); rejects with `AuthError` for a refused key and
   * `NetworkError` when the server cannot be reached at all.
   */
  async signIn(apiKey) {
    this.close();
    this.closed = false;
    this.apiKey = apiKey;
    this._setState("connecting");
    try {
      await this._connectSocket();
      return;
    } catch (error) {
      if (error instanceof AuthError) {
        this.close();
        throw error;
      }
    }
    // No socket: check the key over REST, then carry on over REST (retrying the socket later).
    try {
      await this._rest([{ taskType: "ping", ping: true }]);
    } catch (error) {
      this.close();
      throw error;
    }
    this._setState("rest");
    this._scheduleReconnect();
  }

  /** Forget the key and close the socket; pending requests fail. */
  close() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, "signed out");
    }
    this._failPending(new NetworkError("The connection was closed."));
    this.apiKey = null;
    this.sessionUUID = null;
  }

  /**
   * Send one task; resolves with `{data, errors}` of the first reply to it (a WebSocket
   * answers each task in its own frames; REST in the body). Every frame is also given to
   * `onFrame`. Rejects with `NetworkError` when no reply came.
   */
  async send(task) {
    if (this.closed) throw new NetworkError("Not signed in.");
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.state === "websocket") {
      try {
        return await this._sendSocket(task);
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        // The socket died under this request: REST answers it (a retried submission that
        // the server already stored answers conflictTaskUUID, which the caller accepts).
      }
    }
    return this._rest([task]);
  }

  _sendSocket(task) {
    const key = `${task.taskType}:${task.taskUUID}`;
    const timeout = task.taskType === "imageUpload" ? UPLOAD_TIMEOUT_MS : REPLY_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const previous = this.pending.get(key);
      if (previous) previous.reject(new NetworkError("Superseded by a newer request."));
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new NetworkError("The server did not answer in time."));
      }, timeout);
      this.pending.set(key, {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      try {
        this.socket.send(JSON.stringify([task]));
      } catch {
        this.pending.delete(key);
        clearTimeout(timer);
        reject(new NetworkError("The socket is closed."));
      }
    });
  }

  async _rest(tasks) {
    let response;
    try {
      response = await fetch(this.restUrl, {
        method: "POST",
        headers: { Authorization: `Bearer ${this.apiKey}`, "Content-Type": "application/json" },
        body: JSON.stringify(tasks),
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new NetworkError("The server cannot be reached.");
    }
    let body;
    try {
      body = await response.json();
    } catch {
      throw new NetworkError(`The server answered HTTP ${response.status} without JSON.`);
    }
    const data = Array.isArray(body.data) ? body.data : [];
    const errors = Array.isArray(body.errors) ? body.errors : [];
    const refused = errors.find((item) => AUTH_CODES.has(item.code));
    if (refused) {
      const error = new AuthError(refused);
      if (this.state !== "connecting") this.onSignedOut(error);
      throw error;
    }
    this.onFrame(data, errors);
    return { data, errors };
  }

  _connectSocket() {
    return new Promise((resolve, reject) => {
      let settled = false;
      let socket;
      const fail = (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (socket) {
          socket.onclose = null;
          socket.onmessage = null;
          try {
            socket.close();
          } catch {
            // already closed
          }
        }
        reject(error);
      };
      const timer = setTimeout(() => fail(new NetworkError("The WebSocket did not open in time.")), OPEN_TIMEOUT_MS + AUTH_TIMEOUT_MS);
      try {
        socket = new WebSocket(this.wsUrl);
      } catch {
        fail(new NetworkError("The WebSocket cannot be opened."));
        return;
      }
      socket.onerror = () => fail(new NetworkError("The WebSocket failed."));
      socket.onclose = () => fail(new NetworkError("The WebSocket closed."));
      socket.onopen = () => {
        const auth = { taskType: "authentication", apiKey: this.apiKey };
        if (this.sessionUUID) auth.connectionSessionUUID = this.sessionUUID;
        socket.send(JSON.stringify([auth]));
      };
      socket.onmessage = (event) => {
        let body;
        try {
          body = JSON.parse(event.data);
        } catch {
          return;
        }
        const errors = Array.isArray(body.errors) ? body.errors : [];
        const data = Array.isArray(body.data) ? body.data : [];
        const refused = errors.find((item) => item.taskType === "authentication" || AUTH_CODES.has(item.code));
        if (refused) {
          fail(new AuthError(refused));
          return;
        }
        const accepted = data.find((item) => item.taskType === "authentication");
        if (!accepted || settled) return;
        settled = true;
        clearTimeout(timer);
        this.sessionUUID = accepted.connectionSessionUUID || null;
        this.socket = socket;
        this.reconnectDelay = 1000;
        socket.onmessage = (message) => this._onFrame(message.data);
        socket.onerror = () => {};
        socket.onclose = () => this._onSocketClosed(socket);
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => {
          if (this.socket === socket && socket.readyState === WebSocket.OPEN) {
            socket.send(JSON.stringify([{ taskType: "ping", ping: true }]));
          }
        }, PING_INTERVAL_MS);
        this._setState("websocket");
        resolve();
      };
    });
  }

  _onFrame(text) {
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return;
    }
    const data = (Array.isArray(body.data) ? body.data : []).filter((item) => item.taskType !== "ping");
    const errors = Array.isArray(body.errors) ? body.errors : [];
    const refused = errors.find((item) => AUTH_CODES.has(item.code) && item.taskType === "authentication");
    if (refused) {
      this.onSignedOut(new AuthError(refused));
      return;
    }
    if (!data.length && !errors.length) return;
    this.onFrame(data, errors);
    const replies = new Map();
    for (const [items, kind] of [
      [data, "data"],
      [errors, "errors"],
    ]) {
      for (const item of items) {
        const key = replyKey(item);
        if (!replies.has(key)) replies.set(key, { data: [], errors: [] });
        replies.get(key)[kind].push(item);
      }
    }
    for (const [key, reply] of replies) {
      const pending = this.pending.get(key);
      if (pending) {
        this.pending.delete(key);
        pending.resolve(reply);
      }
    }
  }

  _onSocketClosed(socket) {
    if (this.socket !== socket) return;
    this.socket = null;
    clearInterval(this.pingTimer);
    this._failPending(new NetworkError("The WebSocket closed."));
    if (this.closed) return;
    this._setState("reconnecting");
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    clearTimeout(this.reconnectTimer);
    if (this.closed) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(async () => {
      if (this.closed) return;
      try {
        await this._connectSocket();
      } catch (error) {
        if (error instanceof AuthError) {
          this.onSignedOut(error);
          return;
        }
        if (this.state !== "rest") this._setState("rest");
        this._scheduleReconnect();
      }
    }, delay);
  }

  _failPending(error) {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) request.reject(error);
  }
}
