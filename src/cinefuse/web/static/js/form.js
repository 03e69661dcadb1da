// The compose form: every videoInference setting of the chosen model.
//
// Options come from the model's capabilities; the cross-field rules (models.js) disable
// what the model refuses in the current state and adjust a field that a change made
// invalid, saying so next to it. `build()` turns the form into the exact task JSON;
// `fill()` does the reverse (reuse settings); `showErrors()` puts each server error
// next to the field its `parameter` names.

import { byId, h, randomInt, setText, uuid4 } from "./dom.js";
import { ImagePicker } from "./images.js";
import {
  durationChoices,
  fastFallsBack,
  formatSeconds,
  label,
  nearestAspect,
  normalize,
  providerActive,
  providerLimitsMatter,
  resolutionChoices,
  sizeFor,
  sizeLookup,
} from "./models.js";

/** Field keys (data-field / err-<key>) for error parameters, after `providerSettings.<p>.`. */
const PARAMETER_FIELDS = {
  model: "model",
  positivePrompt: "positivePrompt",
  negativePrompt: "negativePrompt",
  resolution: "resolution",
  width: "size",
  height: "size",
  duration: "duration",
  fps: "fps",
  seed: "seed",
  numberResults: "numberResults",
  outputFormat: "outputFormat",
  outputQuality: "outputQuality",
  ttl: "ttl",
  includeCost: "includeCost",
  webhookURL: "webhookURL",
  uploadEndpoint: "uploadEndpoint",
  safety: "safety",
  cameraMovement: "cameraMovement",
  effect: "effect",
  style: "style",
  motionMode: "motionMode",
  frameImages: "frameFirst",
  referenceImages: "referenceImages",
};

const FRAME_FIELDS = { first: "frameFirst", last: "frameLast" };

/**
 * The form field (a `data-field` key) an error's `parameter` names, or null for the general
 * error area. `fields` maps this task's own paths first (frame images by index):
 * "inputs.frameImages[1].frame" -> the picker of the second frame image sent;
 * "providerSettings.pixverse.effect" -> "effect"; "safety.mode" -> "safety".
 */
export function parameterField(parameter, fields = {}) {
  if (!parameter) return null;
  for (let path = String(parameter); path; ) {
    if (fields[path]) return fields[path];
    const shorter = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
    if (shorter === path) break;
    path = shorter;
  }
  const path = String(parameter).replace(/^providerSettings\.[^.]+\./, "").replace(/^inputs\./, "");
  return PARAMETER_FIELDS[path.split(/[.[]/)[0]] || null;
}

function options(select, choices, value) {
  select.replaceChildren(
    ...choices.map((choice) =>
      h(
        "option",
        { value: String(choice.value), disabled: choice.disabled || false, class: choice.className || "" },
        choice.label,
      ),
    ),
  );
  select.value = String(value);
}

function enumChoices(values, noneLabel) {
  return [{ value: "", label: noneLabel }, ...values.map((value) => ({ value, label: label(value) }))];
}

export class StudioForm {
  /**
   * @param {object} options
   * @param {object} options.catalog `GET /v1/models`
   * @param {(task: object) => Promise<object>} options.upload sends an imageUpload task
   * @param {() => void} options.onSubmit the Render button / Enter
   */
  constructor({ catalog, upload, onSubmit }) {
    this.catalog = catalog;
    this.form = byId("job-form");
    this.el = {
      model: byId("model"),
      modelDescription: byId("model-description"),
      prompt: byId("prompt"),
      promptCounter: byId("prompt-counter"),
      negative: byId("negative-prompt"),
      resolution: byId("resolution"),
      duration: byId("duration"),
      aspects: byId("aspects"),
      fps: byId("fps"),
      numberResults: byId("number-results"),
      camera: byId("camera"),
      effect: byId("effect"),
      style: byId("style"),
      motion: byId("motion"),
      providerNote: byId("provider-note"),
      seed: byId("seed"),
      dice: byId("seed-dice"),
      outputFormat: byId("output-format"),
      quality: byId("quality"),
      qualityValue: byId("quality-value"),
      safetyMode: byId("safety-mode"),
      checkInputs: byId("safety-inputs"),
      tolerance: byId("safety-tolerance"),
      ttl: byId("ttl"),
      includeCost: byId("include-cost"),
      webhook: byId("webhook"),
      uploadEndpoint: byId("upload-endpoint"),
      formError: byId("form-error"),
      summary: byId("summary"),
      submit: byId("submit"),
      advanced: byId("advanced"),
    };
    this.notes = {};
    this.errorFields = new Set();
    this.chosenAspect = null;
    const limits = () => this.catalog.limits.image;
    const onChange = () => this.refresh("images");
    this.pickers = {
      first: new ImagePicker(byId("frame-first"), {
        name: "first frame", max: 1, errorNode: byId("err-frameFirst"), limits, upload, onChange,
      }),
      last: new ImagePicker(byId("frame-last"), {
        name: "last frame", max: 1, errorNode: byId("err-frameLast"), limits, upload, onChange,
      }),
      refs: new ImagePicker(byId("references"), {
        name: "reference images", max: 3, errorNode: byId("err-referenceImages"), limits, upload, onChange,
      }),
    };

    // A model the server cannot run now stays selectable (its settings can be looked at),
    // greyed and labelled; the form says what to run and does not send it.
    const firstAvailable = (catalog.models.find((m) => m.available !== false) || catalog.models[0]).id;
    options(
      this.el.model,
      catalog.models.map((m) => ({
        value: m.id,
        label: m.available === false ? `${m.id} (not installed)` : m.id,
        className: m.available === false ? "unavailable" : "",
      })),
      firstAvailable,
    );
    this.el.safetyMode.replaceChildren(
      ...catalog.limits.safetyModes.map((mode) =>
        h("option", { value: mode }, mode === "none" ? "Off" : mode === "fast" ? "Fast (3 frames)" : "Full (every frame)"),
      ),
    );
    const ttl = catalog.limits.ttl;
    this.el.ttl.min = String(ttl.min);
    this.el.ttl.max = String(ttl.max);
    setText(byId("hint-ttl"), `${ttl.min} s to 10 years; empty: the server's default.`);
    this.el.seed.max = String(catalog.limits.seed.max);

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      onSubmit();
    });
    this.el.model.addEventListener("change", () => this.setModel(this.el.model.value));
    const watch = [
      ["resolution", "resolution"],
      ["duration", "duration"],
      ["fps", "fps"],
      ["numberResults", "numberResults"],
      ["camera", "cameraMovement"],
      ["effect", "effect"],
      ["style", "style"],
      ["motion", "motionMode"],
      ["outputFormat", "outputFormat"],
      ["safetyMode", "safety"],
    ];
    for (const [key, field] of watch) {
      this.el[key].addEventListener("change", () => {
        this.clearError(field);
        this.refresh(field);
      });
    }
    this.el.aspects.addEventListener("change", (event) => {
      this.chosenAspect = event.target.value;
      this.clearError("size");
      this.refresh("size");
    });
    for (const [key, field] of [
      ["prompt", "positivePrompt"],
      ["negative", "negativePrompt"],
      ["seed", "seed"],
      ["ttl", "ttl"],
      ["webhook", "webhookURL"],
      ["uploadEndpoint", "uploadEndpoint"],
      ["quality", "outputQuality"],
    ]) {
      this.el[key].addEventListener("input", () => {
        this.clearError(field);
        this.refreshText();
      });
    }
    this.el.includeCost.addEventListener("change", () => this.clearError("includeCost"));
    this.el.dice.addEventListener("click", () => {
      this.el.seed.value = String(randomInt(this.catalog.limits.seed.max));
      this.clearError("seed");
    });
    this.setModel(firstAvailable);
  }

  /** The capabilities of the chosen model. */
  get caps() {
    return this.catalog.models.find((m) => m.id === this.el.model.value) || this.catalog.models[0];
  }

  /** The aspect ratio the user chose (frame images only override what is shown, not this). */
  get aspect() {
    return this.chosenAspect || this.caps.defaults.aspectRatio;
  }

  /** The rule-relevant state: resolution, duration, aspect, camera, effect, style, motion. */
  state() {
    return {
      resolution: this.el.resolution.value,
      duration: Number(this.el.duration.value),
      aspect: this.aspect,
      camera: this.el.camera.value,
      effect: this.el.effect.value,
      style: this.el.style.value,
      motion: this.el.motion.value,
    };
  }

  /** Switch to model `id`, keeping every value it also accepts. */
  setModel(id, keep = this.state()) {
    this.el.model.value = id;
    const caps = this.caps;
    const about = caps.description || (caps.engine ? `Runs on the ${caps.engine} engine.` : "");
    setText(this.el.modelDescription, caps.available === false ? `${caps.missing} ${about}` : about);
    this.el.modelDescription.classList.toggle("missing", caps.available === false);
    this.el.model.classList.toggle("unavailable", caps.available === false);
    const pick = (values, value, fallback) => (values.map(String).includes(String(value)) ? value : fallback);

    options(
      this.el.fps,
      caps.fps.map((v) => ({ value: v, label: `${v} fps` })),
      pick(caps.fps, Number(this.el.fps.value), caps.defaults.fps),
    );
    const results = [];
    for (let n = caps.numberResults.min; n <= caps.numberResults.max; n++) results.push({ value: n, label: String(n) });
    options(this.el.numberResults, results, pick(results.map((r) => r.value), Number(this.el.numberResults.value), caps.defaults.numberResults));
    options(
      this.el.outputFormat,
      caps.outputFormats.map((v) => ({ value: v, label: v })),
      pick(caps.outputFormats, this.el.outputFormat.value, caps.defaults.outputFormat),
    );
    options(this.el.camera, enumChoices(caps.cameraMovements, "None"), pick(caps.cameraMovements, keep.camera, ""));
    options(this.el.effect, enumChoices(caps.effects, "None"), pick(caps.effects, keep.effect, ""));
    options(this.el.style, enumChoices(caps.styles, "None"), pick(caps.styles, keep.style, ""));
    options(
      this.el.motion,
      caps.motionModes.map((v) => ({ value: v, label: v === caps.defaults.motionMode ? `${label(v)} (default)` : label(v) })),
      pick(caps.motionModes, keep.motion, caps.defaults.motionMode),
    );
    const quality = caps.outputQuality;
    this.el.quality.min = String(quality.min);
    this.el.quality.max = String(quality.max);
    const q = Number(this.el.quality.value);
    const keepQuality = this.el.quality.dataset.ready && q >= quality.min && q <= quality.max;
    this.el.quality.value = String(keepQuality ? q : quality.default);
    this.el.quality.dataset.ready = "1";
    this.el.prompt.maxLength = caps.promptLength.max;
    this.el.negative.maxLength = caps.promptLength.max;

    this.el.aspects.replaceChildren(
      ...caps.aspectRatios.map((aspect) => {
        const size = sizeFor(caps, caps.defaults.resolution, aspect);
        const box = h("span", { class: "aspect-box", "aria-hidden": "true" });
        const scale = 22 / Math.max(size.width, size.height);
        box.style.width = `${Math.round(size.width * scale)}px`;
        box.style.height = `${Math.round(size.height * scale)}px`;
        return h(
          "label",
          { class: "aspect" },
          h("input", { type: "radio", name: "aspect", value: aspect, class: "aspect-input" }),
          h("span", { class: "aspect-face" }, box, h("span", { class: "aspect-name" }, aspect)),
        );
      }),
    );
    this.chosenAspect = pick(caps.aspectRatios, keep.aspect, caps.defaults.aspectRatio);
    this._checkAspect(this.chosenAspect);

    this.pickers.first.setMax(caps.maxFrameImages >= 1 ? 1 : 0);
    this.pickers.last.setMax(caps.maxFrameImages >= 2 ? 1 : 0);
    this.pickers.refs.setMax(caps.maxReferenceImages);
    byId("images-group").hidden = caps.maxFrameImages === 0 && caps.maxReferenceImages === 0;
    setText(
      byId("references-hint"),
      `Up to ${caps.maxReferenceImages}: subjects, objects or a scene to combine.`,
    );

    this.notes = {};
    this._applyRules({ ...keep, resolution: pick(caps.resolutions, keep.resolution, caps.defaults.resolution) }, "model");
  }

  _checkAspect(aspect) {
    for (const input of this.el.aspects.querySelectorAll("input")) input.checked = input.value === aspect;
  }

  /** Re-apply the rules after `changed` changed. */
  refresh(changed) {
    this.notes = {};
    this._applyRules(this.state(), changed);
  }

  _applyRules(input, changed) {
    const caps = this.caps;
    const { state, notes } = normalize(caps, input, changed);
    Object.assign(this.notes, notes);
    this.chosenAspect = state.aspect;
    options(this.el.resolution, resolutionChoices(caps, state), state.resolution);
    options(this.el.duration, durationChoices(caps, state), state.duration);
    this.el.camera.value = state.camera;
    this.el.effect.value = state.effect;
    // An effect and a camera movement exclude each other: the one set disables the other.
    this.el.camera.disabled = Boolean(state.effect);
    this.el.effect.disabled = Boolean(state.camera);

    const frames = this._frameImages();
    const first = frames[0];
    const locked = frames.length > 0;
    for (const input of this.el.aspects.querySelectorAll("input")) input.disabled = locked;
    let aspect = state.aspect;
    if (locked) {
      aspect = first.width ? nearestAspect(caps, first.width, first.height) : caps.defaults.aspectRatio;
    }
    this._checkAspect(aspect);
    this.el.aspects.classList.toggle("locked", locked);

    const hints = {
      resolution: notes.resolution || (providerActive(state) && caps.resolutions.some((r) => resolutionChoices(caps, state).find((c) => c.value === r).disabled)
        ? `Up to ${caps.providerSettingMaxResolution} with a camera movement, effect or style.`
        : ""),
      duration: notes.duration || durationChoices(caps, state).filter((c) => c.disabled).map((c) => c.reason)[0] || "",
      cameraMovement: notes.cameraMovement || (state.effect ? "Not with an effect: clear the effect to choose one." : ""),
      effect: notes.effect || (state.camera ? "Not with a camera movement: clear it to choose an effect." : ""),
      motionMode: fastFallsBack(caps, state)
        ? `Fast motion falls back to normal at ${[
            ...caps.fastModeExcludedDurations.map(formatSeconds),
            ...caps.fastModeExcludedResolutions,
          ].join(" and ")}: this clip renders with normal motion.`
        : "",
      outputFormat: this.el.outputFormat.value === "MOV" ? "MOV files download fine; most browsers cannot play them inline." : "",
    };
    const size = sizeFor(caps, state.resolution, aspect);
    if (locked) {
      hints.size = first.width
        ? `Follows the ${frames.length > 1 ? "first " : ""}frame image: ${first.width}×${first.height} snaps to ${aspect}, ${size.width}×${size.height}. An explicit size cannot be combined with frame images.`
        : "Follows the frame image's aspect ratio (the first one's, when there are two).";
    } else if (aspect === caps.defaults.aspectRatio) {
      hints.size = `${size.width}×${size.height}, sent as resolution ${state.resolution}.`;
    } else {
      hints.size = `${size.width}×${size.height}, sent as an explicit width and height.`;
    }
    for (const [field, text] of Object.entries(hints)) {
      const node = document.getElementById(`hint-${field}`);
      if (node) {
        setText(node, text);
        node.classList.toggle("adjusted", Boolean(notes[field]));
      }
    }
    setText(
      this.el.providerNote,
      providerLimitsMatter(caps)
        ? `Camera movement, effect and style allow ${caps.providerSettingDurations.map(formatSeconds).join(", ")} clips up to ${caps.providerSettingMaxResolution}.`
        : "",
    );
    this.refreshText();
  }

  /** Prompt counter, quality readout and the summary line. */
  refreshText() {
    const caps = this.caps;
    setText(this.el.promptCounter, `${this.el.prompt.value.length} / ${caps.promptLength.max}`);
    setText(this.el.qualityValue, this.el.quality.value);
    const state = this.state();
    const shown = this.el.aspects.querySelector("input:checked");
    const size = sizeFor(caps, state.resolution, shown ? shown.value : caps.defaults.aspectRatio);
    const fps = Number(this.el.fps.value);
    const n = Number(this.el.numberResults.value);
    const frames = Math.round(state.duration * fps);
    setText(
      this.el.summary,
      `${size ? `${size.width}×${size.height}` : state.resolution} · ${formatSeconds(state.duration)} at ${fps} fps (${frames} frames) · ${n} result${n === 1 ? "" : "s"}`,
    );
  }

  _frameImages() {
    const out = [];
    for (const position of ["first", "last"]) {
      const [image] = this.pickers[position].ready();
      if (image) out.push({ ...image, position });
    }
    return out;
  }

  /**
   * The task for the form as it is: `{task, fields, images}`, or `{problem}` when the
   * form cannot be sent yet. `fields` maps error parameters of this task to form fields;
   * `images` maps each used imageUUID to `{url, width, height, name}` (for reuse).
   */
  build() {
    const caps = this.caps;
    if (caps.available === false) {
      return { problem: `${caps.id} cannot run on this server yet. ${caps.missing}` };
    }
    if (Object.values(this.pickers).some((picker) => picker.busy())) {
      return { problem: "Wait for the image uploads to finish." };
    }
    const state = this.state();
    const task = { taskType: "videoInference", taskUUID: uuid4(), model: caps.id, positivePrompt: this.el.prompt.value };
    const fields = {};
    const images = {};
    if (this.el.negative.value) task.negativePrompt = this.el.negative.value;
    const frames = this._frameImages();
    if (frames.length || state.aspect === caps.defaults.aspectRatio) {
      task.resolution = state.resolution;
    } else {
      const size = sizeFor(caps, state.resolution, state.aspect);
      task.width = size.width;
      task.height = size.height;
    }
    task.duration = state.duration;
    task.fps = Number(this.el.fps.value);
    const seed = this.el.seed.value.trim();
    task.seed = seed === "" ? randomInt(this.catalog.limits.seed.max) : Number(seed);
    task.numberResults = Number(this.el.numberResults.value);
    task.outputFormat = this.el.outputFormat.value;
    task.outputQuality = Number(this.el.quality.value);
    if (this.el.ttl.value.trim() !== "") task.ttl = Number(this.el.ttl.value);
    if (this.el.includeCost.checked) task.includeCost = true;
    if (this.el.webhook.value.trim()) task.webhookURL = this.el.webhook.value.trim();
    if (this.el.uploadEndpoint.value.trim()) task.uploadEndpoint = this.el.uploadEndpoint.value.trim();
    const safety = {};
    if (this.el.safetyMode.value !== "none") safety.mode = this.el.safetyMode.value;
    if (this.el.checkInputs.checked) safety.checkInputs = true;
    if (this.el.tolerance.checked) safety.tolerance = true;
    if (Object.keys(safety).length) task.safety = safety;

    const remember = (image) => {
      images[image.uuid] = { url: image.remoteUrl || (image.local ? "" : image.url), width: image.width, height: image.height, name: image.name || "" };
    };
    const inputs = {};
    if (frames.length) {
      inputs.frameImages = frames.map((image, i) => {
        fields[`inputs.frameImages[${i}]`] = FRAME_FIELDS[image.position];
        remember(image);
        return { image: image.uuid, frame: image.position };
      });
    }
    const refs = this.pickers.refs.ready();
    if (refs.length) {
      inputs.referenceImages = refs.map((image) => {
        remember(image);
        return image.uuid;
      });
    }
    if (Object.keys(inputs).length) task.inputs = inputs;
    const settings = {};
    if (state.camera) settings.cameraMovement = state.camera;
    if (state.effect) settings.effect = state.effect;
    if (state.style) settings.style = state.style;
    if (state.motion && state.motion !== caps.defaults.motionMode) settings.motionMode = state.motion;
    if (Object.keys(settings).length) task.providerSettings = { [caps.provider]: settings };
    return { task, fields, images };
  }

  /** Fill the form from an earlier task (reuse settings); `images` as `build()` made it. */
  fill(task, images = {}) {
    this.clearErrors();
    const known = this.catalog.models.some((m) => m.id === task.model);
    const caps = known ? this.catalog.models.find((m) => m.id === task.model) : this.caps;
    const settings = (task.providerSettings && task.providerSettings[caps.provider]) || {};
    let resolution = task.resolution || caps.defaults.resolution;
    let aspect = caps.defaults.aspectRatio;
    if (task.width && task.height) {
      const found = sizeLookup(caps, task.width, task.height);
      if (found) ({ resolution, aspect } = found);
    }
    this.setModel(caps.id, {
      resolution,
      duration: task.duration ?? caps.defaults.duration,
      aspect,
      camera: settings.cameraMovement || "",
      effect: settings.effect || "",
      style: settings.style || "",
      motion: settings.motionMode || caps.defaults.motionMode,
    });
    const choose = (select, value, fallback) => {
      select.value = String(value ?? fallback);
      if (select.value === "") select.value = String(fallback);
    };
    choose(this.el.fps, task.fps, caps.defaults.fps);
    choose(this.el.numberResults, task.numberResults, caps.defaults.numberResults);
    choose(this.el.outputFormat, task.outputFormat, caps.defaults.outputFormat);
    this.el.quality.value = String(task.outputQuality ?? caps.outputQuality.default);
    this.el.prompt.value = task.positivePrompt || "";
    this.el.negative.value = task.negativePrompt || "";
    this.el.seed.value = task.seed === undefined ? "" : String(task.seed);
    this.el.ttl.value = task.ttl === undefined ? "" : String(task.ttl);
    this.el.includeCost.checked = Boolean(task.includeCost);
    this.el.webhook.value = task.webhookURL || "";
    this.el.uploadEndpoint.value = task.uploadEndpoint || "";
    const safety = task.safety || {};
    this.el.safetyMode.value = safety.mode || (safety.checkContent ? "fast" : "none");
    this.el.checkInputs.checked = Boolean(safety.checkInputs);
    this.el.tolerance.checked = Boolean(safety.tolerance);
    if (task.webhookURL || task.uploadEndpoint || task.ttl !== undefined || task.safety || task.includeCost) {
      this.el.advanced.open = true;
    }

    const inputs = task.inputs || {};
    const asImage = (value) => {
      const uuid = typeof value === "string" ? value : value.image || value.inputImage;
      const meta = images[uuid] || {};
      return { uuid, url: meta.url || "", width: meta.width || null, height: meta.height || null, name: meta.name || "" };
    };
    const frames = inputs.frameImages || task.frameImages || [];
    const byPosition = { first: [], last: [] };
    frames.forEach((value, i) => {
      const given = typeof value === "object" ? value.frame : undefined;
      const position = given === "last" || given === -1 ? "last" : given === undefined && i === 1 ? "last" : "first";
      byPosition[position].push(asImage(value));
    });
    this.pickers.first.set(byPosition.first);
    this.pickers.last.set(byPosition.last);
    this.pickers.refs.set((inputs.referenceImages || task.referenceImages || []).map(asImage));
    this.refresh("model");
    if (!known) this.showGeneral(`Model ${task.model} is not offered by this server; the other settings were kept.`);
  }

  clearError(field) {
    if (!this.errorFields.has(field)) return;
    this.errorFields.delete(field);
    const node = document.getElementById(`err-${field}`);
    if (node) setText(node, "");
    const wrapper = this.form.querySelector(`[data-field="${field}"]`);
    if (wrapper) {
      wrapper.classList.remove("has-error");
      for (const control of wrapper.querySelectorAll("input, select, textarea")) control.removeAttribute("aria-invalid");
    }
  }

  clearErrors() {
    for (const field of [...this.errorFields]) this.clearError(field);
    for (const picker of Object.values(this.pickers)) picker.showError("");
    this.showGeneral("");
  }

  showGeneral(message) {
    setText(this.el.formError, message);
    this.el.formError.hidden = !message;
  }

  /** Show server errors next to their fields; focus the first. `fields` from `build()`. */
  showErrors(errors, fields = {}) {
    let first = null;
    const general = [];
    for (const error of errors) {
      const field = parameterField(error.parameter, fields);
      const message = error.message || error.code;
      if (field === "frameFirst" || field === "frameLast" || field === "referenceImages") {
        const picker = field === "frameFirst" ? this.pickers.first : field === "frameLast" ? this.pickers.last : this.pickers.refs;
        picker.showError(message);
        first = first || picker.root.querySelector("button");
        continue;
      }
      const node = field && document.getElementById(`err-${field}`);
      const wrapper = field && this.form.querySelector(`[data-field="${field}"]`);
      if (!node || !wrapper) {
        general.push(message);
        continue;
      }
      if (wrapper.closest("details")) wrapper.closest("details").open = true;
      setText(node, message);
      wrapper.classList.add("has-error");
      this.errorFields.add(field);
      const control = wrapper.querySelector("input:not([type=radio]):not(:disabled), select, textarea, input[type=radio]:checked");
      if (control) control.setAttribute("aria-invalid", "true");
      first = first || control;
    }
    this.showGeneral(general.join(" "));
    if (general.length && !first) first = this.el.formError;
    if (first) {
      if (first === this.el.formError) first.tabIndex = -1;
      first.focus({ preventScroll: true });
      first.scrollIntoView({ block: "center", behavior: "smooth" });
    }
  }

  /** Drop the images of the pickers (they belong to the key that uploaded them). */
  clearImages() {
    for (const picker of Object.values(this.pickers)) picker.clear();
    this.refresh("images");
  }

  setBusy(busy) {
    this.el.submit.disabled = busy;
    this.el.submit.setAttribute("aria-busy", busy ? "true" : "false");
  }

  focusPrompt() {
    this.el.prompt.focus({ preventScroll: true });
    this.form.scrollIntoView({ block: "start", behavior: "smooth" });
  }
}
