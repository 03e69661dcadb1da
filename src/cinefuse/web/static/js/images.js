// Image pickers: first frame, last frame and reference images.
//
// A picker takes files dropped on it or chosen with its button, checks them against the
// server's limits (so an obviously wrong file is refused at once), shows a thumbnail, and
// uploads each with an `imageUpload` task; the task form then uses the returned
// imageUUID. Images reused from the history come back by UUID with their imageURL.

import { h, setText, uuid4 } from "./dom.js";

const ACCEPT = "image/png,image/jpeg,image/webp,image/bmp,image/gif";

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error("The file could not be read."));
    reader.readAsDataURL(file);
  });
}

async function dimensions(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const size = { width: bitmap.width, height: bitmap.height };
    bitmap.close();
    return size;
  } catch {
    return null;
  }
}

export class ImagePicker {
  /**
   * @param {HTMLElement} root the drop zone
   * @param {object} options
   * @param {string} options.name what one image is called ("first frame")
   * @param {number} options.max how many images it holds
   * @param {HTMLElement} options.errorNode where its errors show
   * @param {() => object} options.limits `limits.image` of the catalog
   * @param {(task: object) => Promise<{data: object[], errors: object[]}>} options.upload sends a task
   * @param {() => void} options.onChange called when its images change
   */
  constructor(root, { name, max, errorNode, limits, upload, onChange }) {
    this.root = root;
    this.name = name;
    this.max = max;
    this.errorNode = errorNode;
    this.limits = limits;
    this.upload = upload;
    this.onChange = onChange;
    this.items = [];
    this.input = h("input", {
      type: "file",
      accept: ACCEPT,
      class: "visually-hidden",
      tabindex: "-1",
      "aria-hidden": "true",
      onchange: () => {
        this.addFiles([...this.input.files]);
        this.input.value = "";
      },
    });
    this.list = h("ul", { class: "thumbs", role: "list" });
    this.addButton = h(
      "button",
      { type: "button", class: "drop-add", onclick: () => this.input.click() },
      h("span", { class: "drop-icon", "aria-hidden": "true" }, "+"),
      h("span", { class: "drop-text" }, h("strong", {}, `Choose ${name}`), h("span", {}, "or drop an image here")),
    );
    this.root.append(this.list, this.addButton, this.input);
    for (const type of ["dragenter", "dragover"]) {
      this.root.addEventListener(type, (event) => {
        if (!event.dataTransfer || ![...event.dataTransfer.types].includes("Files")) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = this.items.length < this.max ? "copy" : "none";
        this.root.classList.add("dragging");
      });
    }
    this.root.addEventListener("dragleave", (event) => {
      if (!this.root.contains(event.relatedTarget)) this.root.classList.remove("dragging");
    });
    this.root.addEventListener("drop", (event) => {
      event.preventDefault();
      this.root.classList.remove("dragging");
      const files = event.dataTransfer ? [...event.dataTransfer.files] : [];
      this.addFiles(files);
    });
    this.render();
  }

  /** How many images this picker takes now (0 hides it). */
  setMax(max) {
    this.max = max;
    if (this.items.length > max) {
      for (const item of this.items.slice(max)) this._release(item);
      this.items = this.items.slice(0, max);
      this.showError(max ? `This model takes at most ${max}: the others were removed.` : "");
    }
    this.input.multiple = max > 1;
    this.render();
  }

  /** Images uploaded and usable: `{uuid, url, width, height, name}`. */
  ready() {
    return this.items.filter((item) => item.status === "ready");
  }

  busy() {
    return this.items.some((item) => item.status === "uploading");
  }

  /** Replace the images with already-uploaded ones (reuse settings). */
  set(images) {
    this.clear();
    this.items = images.slice(0, this.max).map((image) => ({ key: uuid4(), status: "ready", ...image }));
    this.render();
    this.onChange();
  }

  clear() {
    for (const item of this.items) this._release(item);
    this.items = [];
    this.showError("");
    this.render();
  }

  showError(message) {
    setText(this.errorNode, message);
    this.root.classList.toggle("has-error", Boolean(message));
  }

  async addFiles(files) {
    this.showError("");
    const room = this.max - this.items.length;
    if (room <= 0) {
      this.showError(`Remove an image first: the ${this.name} slot holds ${this.max}.`);
      return;
    }
    if (files.length > room) this.showError(`Only ${room} more image${room === 1 ? "" : "s"} fit here.`);
    await Promise.all(files.slice(0, room).map((file) => this._addFile(file)));
  }

  async _addFile(file) {
    const limits = this.limits();
    if (!file.type.startsWith("image/")) {
      this.showError(`${file.name} is not an image.`);
      return;
    }
    if (file.size > limits.maxBytes) {
      this.showError(`${file.name} is over ${Math.round(limits.maxBytes / 1048576)} MB.`);
      return;
    }
    const size = await dimensions(file);
    if (size) {
      const sides = [size.width, size.height];
      if (sides.some((side) => side < limits.minSide || side > limits.maxSide)) {
        this.showError(
          `${file.name} is ${size.width}×${size.height} px; each side must be ${limits.minSide}–${limits.maxSide} px.`,
        );
        return;
      }
    }
    const item = {
      key: uuid4(),
      status: "uploading",
      name: file.name,
      url: URL.createObjectURL(file),
      local: true,
      width: size ? size.width : null,
      height: size ? size.height : null,
      uuid: null,
    };
    this.items.push(item);
    this.render();
    this.onChange();
    try {
      const image = await readAsDataUrl(file);
      const reply = await this.upload({ taskType: "imageUpload", taskUUID: uuid4(), image });
      const data = reply.data.find((d) => d.imageUUID);
      if (!data) throw new Error((reply.errors[0] && reply.errors[0].message) || "The upload was refused.");
      item.uuid = data.imageUUID;
      item.remoteUrl = data.imageURL;
      item.status = "ready";
    } catch (error) {
      this._remove(item);
      this.showError(`${file.name}: ${error.message}`);
      return;
    }
    if (this.items.includes(item)) {
      this.render();
      this.onChange();
    }
  }

  _release(item) {
    if (item.local && item.url) URL.revokeObjectURL(item.url);
  }

  _remove(item) {
    this._release(item);
    this.items = this.items.filter((other) => other !== item);
    this.render();
    this.onChange();
  }

  render() {
    const hidden = this.max === 0;
    this.root.closest(".picker-field").hidden = hidden;
    this.list.replaceChildren(
      ...this.items.map((item, i) => {
        const title = item.name || `image ${item.uuid ? item.uuid.slice(0, 8) : i + 1}`;
        const caption = item.status === "uploading" ? "Uploading…" : item.width ? `${item.width}×${item.height}` : "uploaded";
        return h(
          "li",
          { class: `thumb ${item.status}`, dataset: { uuid: item.uuid || "" } },
          h("img", { src: item.url || item.remoteUrl || "", alt: `${this.name}: ${title}`, loading: "lazy" }),
          h("span", { class: "thumb-caption" }, caption),
          h(
            "button",
            {
              type: "button",
              class: "thumb-remove",
              "aria-label": `Remove ${this.name} ${title}`,
              title: "Remove",
              onclick: () => {
                this._remove(item);
                this.addButton.focus();
              },
            },
            "×",
          ),
        );
      }),
    );
    this.addButton.hidden = this.items.length >= this.max;
    this.root.classList.toggle("filled", this.items.length > 0);
  }
}
