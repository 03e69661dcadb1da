// Small DOM helpers shared by the studio's modules.

/** The element with this id; throws when the page lacks it (a broken page should fail loudly). */
export function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing element #${id}`);
  return found;
}

/**
 * Create an element: `h("button", {type: "button", class: "btn", onclick: fn}, "Label")`.
 * Attributes starting with "on" become listeners, `dataset` merges data attributes,
 * `false`/`null` values are skipped; children are nodes or strings (never parsed as HTML).
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "class") {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Set an element's text only when it changed (keeps live regions quiet). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** A UUID v4 from `crypto.getRandomValues` (`crypto.randomUUID` needs a secure context). */
export function uuid4() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A random integer in [0, max] from the platform's CSPRNG. */
export function randomInt(max) {
  const [value] = crypto.getRandomValues(new Uint32Array(1));
  return value % (max + 1);
}

let toastTimer = 0;

/** A short message in the page's status toast (announced politely). */
export function toast(message) {
  const node = byId("toast");
  node.textContent = message;
  node.classList.add("visible");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.classList.remove("visible"), 2600);
}

/** Copy text to the clipboard; resolves false when the browser does not allow it. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the legacy path
  }
  const area = h("textarea", { class: "clipboard-helper", readonly: true, "aria-hidden": "true" }, text);
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

/** "lighthouse on a cliff…": at most `length` characters of `text` on one line. */
export function shorten(text, length = 80) {
  const line = String(text || "").replace(/\s+/g, " ").trim();
  return line.length > length ? `${line.slice(0, length - 1)}…` : line;
}
