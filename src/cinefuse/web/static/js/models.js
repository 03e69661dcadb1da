// Model capabilities (`GET /v1/models`) and the cross-field rules the form enforces with them.
//
// Everything here is a pure function of a model's capabilities and the form's state, the
// same rules the server's parser applies (docs/api.md, "Cross-field rules"):
//  * cameraMovement and effect exclude each other;
//  * with cameraMovement, effect or style: only `providerSettingDurations`, and sizes up to
//    `providerSettingMaxResolution`;
//  * `durationsByResolution` narrows the durations of a tier (1080p: 5 s only);
//  * width/height never with frame images (the size follows the first image);
//  * motionMode "fast" silently becomes "normal" at the excluded durations / resolutions.

const TIER_ORDER = ["360p", "540p", "720p", "1080p"];

/** The catalog `{models, limits}` from the server. */
export async function loadModels(base) {
  const response = await fetch(new URL("v1/models", base), { cache: "no-cache", credentials: "omit" });
  if (!response.ok) throw new Error(`GET /v1/models answered HTTP ${response.status}`);
  const catalog = await response.json();
  if (!Array.isArray(catalog.models) || catalog.models.length === 0) throw new Error("The server lists no models.");
  return catalog;
}

/** "zoom_in" -> "Zoom in", "3d_animation" -> "3D animation", "kiss me ai" -> "Kiss me ai". */
export function label(value) {
  const text = String(value).replace(/_/g, " ").replace(/\b3d\b/gi, "3D");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formatSeconds(value) {
  return `${Number(value)} s`;
}

function tierIndex(caps, tier) {
  const own = caps.resolutions.indexOf(tier);
  const global = TIER_ORDER.indexOf(tier);
  return global >= 0 ? global : own;
}

/** Is tier `resolution` at most tier `limit`? */
export function atMost(caps, resolution, limit) {
  return tierIndex(caps, resolution) <= tierIndex(caps, limit);
}

/** True when camera movement, effect or style is set (they limit duration and size). */
export function providerActive(state) {
  return Boolean(state.camera || state.effect || state.style);
}

/** Do the provider-setting limits narrow anything for this model? */
export function providerLimitsMatter(caps) {
  const maxed = caps.resolutions.some((r) => !atMost(caps, r, caps.providerSettingMaxResolution));
  const fewer = caps.durations.some((d) => !caps.providerSettingDurations.includes(d));
  return maxed || fewer;
}

export function durationsAt(caps, resolution) {
  return caps.durationsByResolution[resolution] || caps.durations;
}

/** Resolution options: `{value, label, disabled, reason}`. */
export function resolutionChoices(caps, state) {
  const limited = providerActive(state);
  return caps.resolutions.map((value) => {
    const tooBig = limited && !atMost(caps, value, caps.providerSettingMaxResolution);
    return {
      value,
      label: tooBig ? `${value} (not with camera, effect or style)` : value,
      disabled: tooBig,
      reason: tooBig ? `Up to ${caps.providerSettingMaxResolution} with a camera movement, effect or style.` : "",
    };
  });
}

/** Duration options at the state's resolution and provider settings. */
export function durationChoices(caps, state) {
  const atTier = durationsAt(caps, state.resolution);
  const limited = providerActive(state);
  return caps.durations.map((value) => {
    let reason = "";
    let short = "";
    if (!atTier.includes(value)) {
      reason = `${state.resolution} allows ${atTier.map(formatSeconds).join(", ")} only.`;
      short = `not at ${state.resolution}`;
    } else if (limited && !caps.providerSettingDurations.includes(value)) {
      reason = `With a camera movement, effect or style: ${caps.providerSettingDurations.map(formatSeconds).join(", ")} only.`;
      short = "not with camera, effect or style";
    }
    return { value, label: short ? `${formatSeconds(value)} (${short})` : formatSeconds(value), disabled: Boolean(reason), reason };
  });
}

/** Will motionMode "fast" fall back to "normal" for this state? */
export function fastFallsBack(caps, state) {
  return (
    state.motion === "fast" &&
    (caps.fastModeExcludedDurations.includes(Number(state.duration)) ||
      caps.fastModeExcludedResolutions.includes(state.resolution))
  );
}

/** (width, height) of a tier and aspect. */
export function sizeFor(caps, resolution, aspect) {
  const tier = caps.sizes[resolution] || {};
  return tier[aspect] || tier[caps.aspectRatios[0]] || null;
}

/** `{resolution, aspect}` of an explicit size from the model's table, or null. */
export function sizeLookup(caps, width, height) {
  for (const [resolution, byAspect] of Object.entries(caps.sizes)) {
    for (const [aspect, size] of Object.entries(byAspect)) {
      if (size.width === width && size.height === height) return { resolution, aspect };
    }
  }
  return null;
}

/** The model's aspect nearest to width/height, in log space (as the server snaps images). */
export function nearestAspect(caps, width, height) {
  const target = Math.log(width / height);
  const sizes = caps.sizes[caps.defaults.resolution] || Object.values(caps.sizes)[0];
  let best = caps.aspectRatios[0];
  let distance = Infinity;
  for (const aspect of caps.aspectRatios) {
    const size = sizes[aspect];
    const d = Math.abs(Math.log(size.width / size.height) - target);
    if (d < distance) {
      distance = d;
      best = aspect;
    }
  }
  return best;
}

/**
 * Bring `state` within the rules after the field `changed` was set; returns
 * `{state, notes}` where notes maps a field to a sentence explaining what was adjusted.
 * The field just changed wins: other fields give way to it.
 */
export function normalize(caps, input, changed) {
  const state = { ...input };
  const notes = {};
  if (state.camera && state.effect) {
    if (changed === "effect") {
      state.camera = "";
      notes.cameraMovement = "Cleared: an effect replaces the camera movement.";
    } else {
      state.effect = "";
      notes.effect = "Cleared: a camera movement replaces the effect.";
    }
  }
  if (!caps.resolutions.includes(state.resolution)) state.resolution = caps.defaults.resolution;
  if (providerActive(state) && !atMost(caps, state.resolution, caps.providerSettingMaxResolution)) {
    const allowed = caps.resolutions.filter((r) => atMost(caps, r, caps.providerSettingMaxResolution));
    state.resolution = allowed[allowed.length - 1];
    notes.resolution = `Lowered to ${state.resolution}: camera movement, effect and style go up to ${caps.providerSettingMaxResolution}.`;
  }
  const choices = durationChoices(caps, state);
  const current = choices.find((c) => c.value === Number(state.duration));
  if (!current || current.disabled) {
    const allowed = choices.filter((c) => !c.disabled).map((c) => c.value);
    if (allowed.length) {
      const next = allowed.includes(caps.defaults.duration) ? caps.defaults.duration : allowed[0];
      if (current) notes.duration = `Set to ${formatSeconds(next)}: ${current.reason}`;
      state.duration = next;
    }
  }
  if (!caps.aspectRatios.includes(state.aspect)) state.aspect = caps.defaults.aspectRatio;
  return { state, notes };
}
