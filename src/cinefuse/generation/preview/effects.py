"""The 20 ``effect`` templates of docs/api.md as parametric animations of the subject.

An effect is planned once per clip (:func:`build_effect`) from the scene's subject layers
and the seed, then asked for one :class:`Animation` per frame: canonical-space matrices
for subject layers (spins, squashes, lunges, drawing two subjects together), repaints of
their pixels (bulges, waves, tints, x-ray), a camera jolt (impacts) and frame overlays
(flashes, grades, hearts, rays, speed lines). What each template does is tabulated in
docs/preview-engine.md; the recipe functions below are in the same order.

Every amplitude is multiplied by the frame's ``strength`` (0 at a pinned keyframe, see
:mod:`.motion`), so an effect can never spoil a first or last frame match. Rhythms run on
the ``beat`` clock (motion-time seconds), so fast mode dances faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cinefuse.models.pixverse import EFFECTS as PIXVERSE_EFFECTS

from . import warps
from .camera import Pose
from .layers import FloatImage, Image, Layer, Matrix, Role, Scene, f32
from .motion import clamp01, smoothstep

#: The values docs/api.md section 3.2 allows, from the model's capability description.
EFFECTS: tuple[str, ...] = PIXVERSE_EFFECTS
#: Interaction templates: they need two subjects (two halves of a single one otherwise).
PAIR_EFFECTS = frozenset({"hug your love", "kiss kiss"})
#: Beats per motion-time second of the dance templates (120 bpm).
BEATS_PER_SECOND = 2.0
#: Clip time of the impact in the impact templates (boom drop, punch face, winner hit).
IMPACT_T = 0.42
#: Soft edge of the split between two halves of one subject, in pixels.
SPLIT_FEATHER = 3

Box = tuple[float, float, float, float]
Projector = Callable[[int, float, float], tuple[float, float]]
Overlay = Callable[[Image, Projector], Image]
Repaint = Callable[[Image], Image]


@dataclass
class Animation:
    """One frame of an effect (see the module docstring)."""

    matrices: dict[int, Matrix] = field(default_factory=dict)  # layer index -> canonical matrix
    everyone: Matrix | None = None  # applied to every layer (a push into the picture)
    repaints: dict[int, Repaint] = field(default_factory=dict)
    shake: tuple[float, float, float] = (0.0, 0.0, 0.0)  # screen px x, px y, roll radians
    zoom: float = 1.0
    overlays: list[Overlay] = field(default_factory=list)
    focal: float = 1.0

    def jolt(self, pose: Pose) -> Pose:
        dx, dy, droll = self.shake
        if dx == 0.0 and dy == 0.0 and droll == 0.0 and self.zoom == 1.0:
            return pose
        # A small yaw/pitch moves the picture by focal * angle pixels.
        return pose.jolted(-dx / self.focal, -dy / self.focal, droll, self.zoom)

    def matrix(self, index: int) -> Matrix:
        m = self.matrices.get(index, np.eye(3))
        return self.everyone @ m if self.everyone is not None else m

    def repaint(self, layers: Sequence[Layer]) -> list[Layer]:
        return [
            layer.with_pixels(self.repaints[i](layer.rgba)) if i in self.repaints else layer
            for i, layer in enumerate(layers)
        ]

    def overlay(self, frame: Image, project: Projector) -> Image:
        for draw in self.overlays:
            frame = draw(frame, project)
        return frame


@dataclass(frozen=True)
class Subject:
    """A subject layer's geometry: canonical box and the layer's origin."""

    index: int
    box: Box
    origin: tuple[float, float]
    shape: tuple[int, int]  # layer image (h, w)

    @property
    def cx(self) -> float:
        return (self.box[0] + self.box[2]) / 2.0

    @property
    def w(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def h(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def feet(self) -> tuple[float, float]:
        return self.cx, self.box[3]

    def head(self) -> tuple[float, float, float]:
        """Centre and radius of the head: a full figure is tall and thin, a bust is not."""
        if self.h > 1.6 * self.w:
            return self.cx, self.box[1] + 0.08 * self.h, 0.07 * self.h
        return self.cx, self.box[1] + 0.27 * self.h, 0.2 * min(self.h, self.w)

    def at(self, fx: float, fy: float) -> tuple[float, float]:
        """Canonical point at fractions of the box."""
        return self.box[0] + fx * self.w, self.box[1] + fy * self.h

    def local(self, x: float, y: float) -> tuple[float, float]:
        """Canonical point -> layer pixel."""
        return x - self.origin[0], y - self.origin[1]


@dataclass
class Stage:
    """What recipes see: subjects (left to right), frame size, the clip's RNG."""

    subjects: list[Subject]
    width: int
    height: int
    rng: np.random.Generator

    @property
    def main(self) -> Subject:
        return max(self.subjects, key=lambda s: s.w * s.h)

    def animation(self) -> Animation:
        return Animation(focal=float(self.width))


Recipe = Callable[[float, float, float], Animation]  # (t, beat, strength) -> Animation


# ------------------------------------------------------------------------------ helpers


def grow(t: float) -> float:
    return smoothstep(0.05, 0.85, t)


def spring(dt: float, rate: float = 9.0, decay: float = 5.0) -> float:
    """Damped oscillation after an impact at ``dt`` = 0 (0 before it)."""
    return 0.0 if dt < 0.0 else math.exp(-decay * dt) * math.sin(rate * dt)


def after(dt: float, decay: float) -> float:
    return 0.0 if dt < 0.0 else math.exp(-dt / decay)


class Shaker:
    """Smooth pseudo-random shake: a few incommensurate sines with seeded phases."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._phases = rng.uniform(0.0, 2.0 * math.pi, size=(2, 3))
        self._freqs = (7.0, 11.3, 17.9)

    def at(self, seconds: float) -> tuple[float, float]:
        x = sum(math.sin(2 * math.pi * f * seconds + p) for f, p in zip(self._freqs, self._phases[0], strict=True))
        y = sum(math.sin(2 * math.pi * f * seconds + p) for f, p in zip(self._freqs, self._phases[1], strict=True))
        return x / 3.0, y / 3.0


def _rows_below(shape: tuple[int, int], row: float, soft: float) -> FloatImage:
    """Weights 0 above ``row`` rising to 1 below it over ``soft`` pixels."""
    rows = np.arange(shape[0], dtype=np.float32)
    ramp = np.clip((rows - row) / max(soft, 1.0) + 0.5, 0.0, 1.0)
    return f32(np.repeat(ramp[:, None], shape[1], axis=1))


def _cols_left_of(shape: tuple[int, int], col: float, soft: float) -> FloatImage:
    """Weights 1 left of ``col`` falling to 0 right of it over ``soft`` pixels."""
    cols = np.arange(shape[1], dtype=np.float32)
    ramp = np.clip((col - cols) / max(soft, 1.0) + 0.5, 0.0, 1.0)
    return f32(np.repeat(ramp[None, :], shape[0], axis=0))


# ------------------------------------------------------------------------------ recipes


def bikini_up(st: Stage) -> Recipe:
    """A summery warm wipe rises over the subject from the feet, sparkling at its edge."""
    subjects = st.subjects

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        front = smoothstep(0.08, 0.8, t) * s
        for sub in subjects:
            row = sub.local(0.0, sub.box[3] - front * sub.h * 1.05)[1]
            weight = _rows_below(sub.shape, row, 0.04 * sub.h) * 0.5

            def repaint(rgba: Image, w: FloatImage = weight) -> Image:
                return warps.tint(rgba, (255.0, 128.0, 96.0), w)

            anim.repaints[sub.index] = repaint
        sparkle_y = [sub.box[3] - front * sub.h * 1.05 for sub in subjects]

        def sparkle(frame: Image, project: Projector) -> Image:
            spots = [
                project(sub.index, sub.box[0] + f * sub.w, y)
                for sub, y in zip(subjects, sparkle_y, strict=True)
                for f in (0.25, 0.5, 0.75)
            ]
            return warps.glow_spot(frame, spots, 0.012 * st.height, (255.0, 240.0, 200.0), 0.9 * s * (front < 1.0))

        anim.overlays += [sparkle, lambda f, p: warps.grade(f, (1.08, 1.0, 0.9), front)]
        return anim

    return at


def tigers_touch(st: Stage) -> Recipe:
    """Tiger stripes sweep across the subject from one side while it crouches to pounce."""
    patterns = {
        sub.index: warps.stripes(sub.shape, 0.09 * sub.h, math.radians(70.0), float(st.rng.uniform(0, 6)))
        for sub in st.subjects
    }

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        sweep = smoothstep(0.1, 0.75, t) * s
        for sub in st.subjects:
            col = sub.local(sub.box[0] + sweep * sub.w * 1.1, 0.0)[0]
            reveal = _cols_left_of(sub.shape, col, 0.05 * sub.w)
            coat = patterns[sub.index] * reveal

            def repaint(rgba: Image, r: FloatImage = reveal, c: FloatImage = coat) -> Image:
                return warps.tint(warps.tint(rgba, (236.0, 128.0, 36.0), r * 0.45), (24.0, 16.0, 10.0), c * 0.85)

            anim.repaints[sub.index] = repaint
            crouch = 0.07 * sweep + 0.02 * spring(t - 0.8, 20.0, 6.0) * s
            anim.matrices[sub.index] = warps.scale_about(*sub.feet, 1.0 + 0.4 * crouch, 1.0 - crouch)
        return anim

    return at


def jiggle(st: Stage) -> Recipe:
    """Squash-and-stretch wobble at 3 Hz with a sideways sway."""

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        env = grow(t) * s
        for k, sub in enumerate(st.subjects):
            wob = math.sin(2.0 * math.pi * 3.0 * beat + k) * 0.07 * env
            sway = math.sin(2.0 * math.pi * 1.5 * beat + k) * 0.06 * env
            anim.matrices[sub.index] = warps.shear_about(*sub.feet, sway) @ warps.scale_about(
                *sub.feet, 1.0 - 0.5 * wob, 1.0 + wob
            )
        return anim

    return at


def _pair(st: Stage) -> tuple[Subject, Subject]:
    ordered = sorted(st.subjects, key=lambda s: s.cx)
    return ordered[0], ordered[-1]


def _approach(st: Stage, lean_degrees: float, overlap: float) -> Callable[[float, float], Animation]:
    """Two subjects drawn together (eased), leaning in; returns (closeness, strength) -> anim."""
    left, right = _pair(st)
    gap = right.cx - left.cx
    travel = max(gap / 2.0 - overlap * (left.w + right.w) / 4.0, 0.0)
    lean = math.radians(lean_degrees)

    def at(close: float, s: float) -> Animation:
        anim = st.animation()
        d = close * s
        anim.matrices[left.index] = warps.translate(travel * d, 0.0) @ warps.rotate_about(*left.feet, lean * d)
        anim.matrices[right.index] = warps.translate(-travel * d, 0.0) @ warps.rotate_about(*right.feet, -lean * d)
        return anim

    return at


def hug(st: Stage) -> Recipe:
    """Two subjects (or two halves of one) glide together and lean into a hug; warm light."""
    approach = _approach(st, 5.0, 0.55)

    def at(t: float, beat: float, s: float) -> Animation:
        close = smoothstep(0.1, 0.75, t)
        anim = approach(close, s)
        anim.overlays.append(lambda f, p: warps.grade(f, (1.08, 1.0, 0.92), close * s))
        return anim

    return at


def _floating_hearts(st: Stage, count: int) -> np.ndarray:
    return st.rng.uniform(0.0, 1.0, size=(count, 3))  # x jitter, phase, size


def kiss_me(st: Stage) -> Recipe:
    """The subject leans towards the camera, blushing pink, as hearts float up."""
    main = st.main
    hx, hy, hr = main.head()
    spec = _floating_hearts(st, 7)

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        g = grow(t) * s
        anim.matrices[main.index] = warps.rotate_about(*main.feet, math.radians(-3.0) * g) @ warps.scale_about(
            hx, hy, 1.0 + 0.2 * g, 1.0 + 0.2 * g
        )
        anim.repaints[main.index] = lambda rgba: warps.tint(rgba, (255.0, 150.0, 180.0), 0.25 * g)

        def hearts(frame: Image, project: Projector) -> Image:
            spots = []
            for jx, phase, size in spec:
                rise = (0.35 * beat + phase) % 1.0
                x, y = project(main.index, hx + (jx - 0.5) * 5.0 * hr, hy + hr - rise * 4.0 * hr)
                spots.append((x, y, (0.5 + size) * 0.05 * st.height))
            return warps.hearts(frame, spots, (255.0, 70.0, 120.0), 0.85 * g)

        anim.overlays.append(hearts)
        return anim

    return at


def fever(st: Stage) -> Recipe:
    """A dance: side steps on the beat, hip-shaking sway, bounce, a disco colour pulse."""

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        beats = beat * BEATS_PER_SECOND
        env = smoothstep(0.0, 0.15, t) * s
        for sub in st.subjects:
            step = math.sin(math.pi * beats / 2.0) * 0.05 * st.width * env
            hips = math.sin(2.0 * math.pi * beats) * 0.1 * env
            bounce = -abs(math.sin(math.pi * beats)) * 0.025 * st.height * env
            anim.matrices[sub.index] = warps.translate(step, bounce) @ warps.shear_about(*sub.feet, hips)
        pulse = (0.5 + 0.5 * math.cos(2.0 * math.pi * beats)) * env
        anim.overlays.append(lambda f, p: warps.grade(f, (1.12, 0.92, 1.15), 0.45 * pulse))
        return anim

    return at


def mermaid(st: Stage) -> Recipe:
    """The lower body ripples like a tail (a wave warp growing downwards), tinted aqua."""

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        g = grow(t) * s
        for sub in st.subjects:
            start = sub.local(0.0, sub.box[1] + 0.45 * sub.h)[1]
            shade = _rows_below(sub.shape, start + 0.1 * sub.h, 0.3 * sub.h) * 0.55 * g

            def repaint(rgba: Image, r0: float = start, sh: FloatImage = shade, sub: Subject = sub) -> Image:
                waved = warps.wave(rgba, r0, 0.08 * sub.w * g, 0.4 * sub.h, 2.0 * math.pi * 1.3 * beat)
                return warps.tint(waved, (40.0, 200.0, 200.0), sh)

            anim.repaints[sub.index] = repaint
            anim.matrices[sub.index] = warps.translate(0.0, math.sin(2.0 * math.pi * 0.5 * beat) * 0.01 * st.height * g)
        anim.overlays.append(lambda f, p: warps.grade(f, (0.88, 1.04, 1.12), 0.5 * g))
        return anim

    return at


#: YMCA poses: (scale x, scale y, lean degrees) and colour gains per letter.
_YMCA = (
    ((0.92, 1.08, 0.0), (1.15, 1.0, 0.88)),
    ((1.1, 0.92, 0.0), (1.0, 0.9, 1.18)),
    ((1.0, 1.0, -9.0), (0.88, 1.1, 1.12)),
    ((1.0, 1.0, 9.0), (1.12, 1.1, 0.88)),
)


def ymca(st: Stage) -> Recipe:
    """Four poses on four beats (stretch, squat, lean left, lean right), a strobe per letter."""

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        beats = beat * BEATS_PER_SECOND
        k = math.floor(beats) % 4
        snap = smoothstep(0.0, 0.3, beats - math.floor(beats))
        (ax, ay, al), _ = _YMCA[(k - 1) % 4]
        (bx, by, bl), gains = _YMCA[k]
        sx, sy, lean = (a + (b - a) * snap for a, b in ((ax, bx), (ay, by), (al, bl)))
        env = smoothstep(0.0, 0.12, t) * s
        for sub in st.subjects:
            anim.matrices[sub.index] = warps.rotate_about(*sub.feet, math.radians(lean) * env) @ warps.scale_about(
                *sub.feet, 1.0 + (sx - 1.0) * env, 1.0 + (sy - 1.0) * env
            )
        anim.overlays.append(lambda f, p: warps.grade(f, gains, 0.4 * env))
        return anim

    return at


def skeleton(st: Stage) -> Recipe:
    """X-ray: the subject turns to an inverted cold negative in a darkened scene, and jerks
    from side to side on the beat."""

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        ray = smoothstep(0.0, 0.15, t) * s
        beats = beat * BEATS_PER_SECOND
        side = 1.0 if math.floor(beats) % 2 == 0 else -1.0
        snap = smoothstep(0.0, 0.25, beats - math.floor(beats))
        for sub in st.subjects:
            anim.repaints[sub.index] = lambda rgba: warps.xray(rgba, 0.95 * ray)
            angle = math.radians(7.0) * side * (2.0 * snap - 1.0) * ray
            hop = -abs(math.sin(math.pi * beats)) * 0.02 * st.height * ray
            anim.matrices[sub.index] = warps.translate(0.0, hop) @ warps.rotate_about(*sub.feet, angle)
        anim.overlays.append(lambda f, p: warps.grade(f, (0.45, 0.55, 0.75), 0.8 * ray))
        return anim

    return at


def kungfu(st: Stage) -> Recipe:
    """Strikes every two beats: a snapping lunge with a motion streak, a jolt, speed lines."""
    shaker = Shaker(st.rng)
    lines = (st.rng.uniform(0.1, 0.9, 14), st.rng.uniform(0.1, 0.3, 14))
    side = 1.0 if st.rng.random() < 0.5 else -1.0

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        phase = (beat * BEATS_PER_SECOND / 2.0) % 1.0
        # Out in 15% of the cycle, back over the rest.
        strike = smoothstep(0.0, 0.15, phase) * (1.0 - smoothstep(0.3, 1.0, phase)) * smoothstep(0.0, 0.1, t) * s
        speed = strike * (phase < 0.15)
        for sub in st.subjects:
            lunge = warps.translate(side * 0.07 * st.width * strike, 0.0)
            anim.matrices[sub.index] = lunge @ warps.shear_about(*sub.feet, -side * 0.12 * strike)
            anim.repaints[sub.index] = lambda rgba: warps.blur_sideways(rgba, int(0.04 * st.width * speed))
        sx, sy = shaker.at(beat)
        hit = strike * (phase > 0.12) * (phase < 0.3)
        anim.shake = (sx * 0.012 * st.width * hit, sy * 0.012 * st.height * hit, 0.0)
        anim.overlays.append(lambda f, p: warps.speed_lines(f, lines[0], lines[1], beat * 3.0 * st.width, 0.5 * strike))
        return anim

    return at


def boom_drop(st: Stage) -> Recipe:
    """The subject drops in from above, lands with a squash, a white flash and a decaying
    camera shake with a zoom punch."""
    shaker = Shaker(st.rng)

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        fall = clamp01(t / IMPACT_T)
        dt = t - IMPACT_T
        for sub in st.subjects:
            drop = -(1.0 - fall * fall) * (sub.box[3] + 0.05 * st.height) * s
            squash = 0.18 * spring(dt * 4.0, 10.0, 3.0) * s
            anim.matrices[sub.index] = warps.translate(0.0, drop) @ warps.scale_about(
                *sub.feet, 1.0 + 0.5 * squash, 1.0 - squash
            )
        quake = after(dt, 0.12) * s
        sx, sy = shaker.at(beat)
        anim.shake = (sx * 0.03 * st.width * quake, sy * 0.03 * st.height * quake, sx * 0.02 * quake)
        anim.zoom = 1.0 + 0.07 * quake
        anim.overlays.append(lambda f, p: warps.flash(f, 0.85 * after(dt, 0.05) * s))
        return anim

    return at


def vroom(st: Stage) -> Recipe:
    """Hopping steps with a squash on each landing, rushing speed lines, engine rumble."""
    shaker = Shaker(st.rng)
    lines = (st.rng.uniform(0.05, 0.95, 18), st.rng.uniform(0.15, 0.4, 18))

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        env = grow(t) * s
        beats = beat * BEATS_PER_SECOND
        hop = abs(math.sin(math.pi * beats))
        land = (1.0 - hop) ** 4
        for sub in st.subjects:
            anim.matrices[sub.index] = warps.translate(0.0, -0.06 * st.height * hop * env) @ warps.scale_about(
                *sub.feet, 1.0 + 0.06 * land * env, 1.0 - 0.08 * land * env
            )
        sx, sy = shaker.at(beat * 3.0)
        anim.shake = (sx * 0.003 * st.width * env, sy * 0.003 * st.height * env, 0.0)
        anim.overlays.append(lambda f, p: warps.speed_lines(f, lines[0], lines[1], -beat * 6.0 * st.width, 0.55 * env))
        return anim

    return at


def devil(st: Stage) -> Recipe:
    """A red, darkening grade creeps in; the mouth stretches into a grin; eyes glow red."""
    main = st.main
    hx, hy, hr = main.head()
    mouth = main.local(hx, hy + 0.45 * hr)
    grin = warps.Bulge(main.shape, mouth, 0.9 * hr, axis=(1.0, 0.25))
    vignette = warps.vignette_mask(st.width, st.height)

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        g = grow(t) * s
        anim.repaints[main.index] = lambda rgba: grin.apply(rgba, 0.45 * g)

        def eyes(frame: Image, project: Projector) -> Image:
            spots = [project(main.index, hx + side * 0.35 * hr, hy - 0.1 * hr) for side in (-1.0, 1.0)]
            return warps.glow_spot(
                frame,
                spots,
                0.12 * hr * project_scale(project, main.index, hx, hy, hr),
                (255.0, 30.0, 20.0),
                g * smoothstep(0.4, 0.9, t),
            )

        anim.overlays += [
            lambda f, p: warps.grade(f, (1.2, 0.75, 0.72), 0.7 * g),
            lambda f, p: warps.darken(f, vignette, 0.7 * g),
            eyes,
        ]
        return anim

    return at


def project_scale(project: Projector, index: int, x: float, y: float, r: float) -> float:
    """Screen pixels per canonical pixel near (x, y) (sizes of overlays follow zooms)."""
    ax, ay = project(index, x, y)
    bx, by = project(index, x + r, y)
    return math.hypot(bx - ax, by - ay) / r


def winner(st: Stage) -> Recipe:
    """Victory: golden light rays fan out from the subject, a gold grade, a bouncing pop."""
    main = st.main

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        g = smoothstep(IMPACT_T - 0.1, IMPACT_T + 0.1, t) * s
        pop = 1.0 + (0.1 * g + 0.06 * spring(t - IMPACT_T, 14.0, 5.0)) * s
        for sub in st.subjects:
            anim.matrices[sub.index] = warps.scale_about(*sub.feet, pop, pop)

        def light(frame: Image, project: Projector) -> Image:
            centre = project(main.index, main.cx, main.box[1] + 0.3 * main.h)
            return warps.rays(frame, centre, 12, 0.25 * beat, (255.0, 214.0, 90.0), 0.7 * g)

        anim.overlays += [light, lambda f, p: warps.grade(f, (1.12, 1.02, 0.72), 0.6 * g)]
        return anim

    return at


def microwave(st: Stage) -> Recipe:
    """The subject turns on a turntable (one turn per 2.5 s; its back side darker) under
    a warm oven light."""

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        turn = math.cos(2.0 * math.pi * beat / 2.5)
        squeeze = 1.0 + (turn - 1.0) * s
        back = smoothstep(0.0, -0.3, turn) * s
        for sub in st.subjects:
            # Never exactly zero width: a singular matrix would lose the layer's box.
            width = math.copysign(max(abs(squeeze), 0.02), squeeze)
            anim.matrices[sub.index] = warps.scale_about(*sub.feet, width, 1.0)
            anim.repaints[sub.index] = lambda rgba: warps.tint(rgba, (20.0, 14.0, 8.0), 0.45 * back)
        anim.overlays.append(lambda f, p: warps.grade(f, (1.12, 1.02, 0.7), 0.55 * s))
        return anim

    return at


def eye_zoom(st: Stage) -> Recipe:
    """A push into the upper centre of the subject (the eyes), accelerating."""
    main = st.main
    hx, hy, hr = main.head()

    ex, ey = hx, hy - 0.1 * hr

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        u = clamp01(t / 0.9)
        push = u * u * u * s  # accelerating
        z = 1.0 + 1.6 * push
        # Zoom about the eyes while bringing them to the centre of the frame.
        centring = warps.translate((st.width / 2.0 - ex) * push, (st.height / 2.0 - ey) * push)
        anim.everyone = centring @ warps.scale_about(ex, ey, z, z)
        return anim

    return at


def muscle(st: Stage) -> Recipe:
    """Bulges swell at the upper arms and chest, pulsing like a flex; warm contrast."""
    plans = []
    for sub in st.subjects:
        radius = 0.24 * sub.w
        arms = [warps.Bulge(sub.shape, sub.local(*sub.at(0.5 + side * 0.3, 0.32)), radius) for side in (-1.0, 1.0)]
        chest = warps.Bulge(sub.shape, sub.local(*sub.at(0.5, 0.3)), radius * 1.2)
        plans.append((sub, arms, chest))

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        g = grow(t) * s
        flex = g * (0.8 + 0.2 * math.sin(2.0 * math.pi * beat))
        for sub, arms, chest in plans:

            def repaint(rgba: Image, arms: list[warps.Bulge] = arms, chest: warps.Bulge = chest) -> Image:
                for bulge in arms:
                    rgba = bulge.apply(rgba, 0.75 * flex)
                return chest.apply(rgba, 0.3 * flex)

            anim.repaints[sub.index] = repaint
            anim.matrices[sub.index] = warps.scale_about(*sub.feet, 1.0 + 0.06 * flex, 1.0 + 0.02 * flex)
        anim.overlays.append(lambda f, p: warps.grade(f, (1.1, 1.0, 0.9), 0.4 * g))
        return anim

    return at


def punch(st: Stage) -> Recipe:
    """A punch lands: the face dents, the subject recoils and springs back, the camera
    shakes, a burst of speed lines and a flash."""
    main = st.main
    hx, hy, hr = main.head()
    dent = warps.Bulge(main.shape, main.local(hx, hy), 1.2 * hr)
    shaker = Shaker(st.rng)
    lines = (st.rng.uniform(0.2, 0.8, 12), st.rng.uniform(0.1, 0.25, 12))
    side = 1.0 if st.rng.random() < 0.5 else -1.0

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        dt = t - IMPACT_T
        hit = after(dt, 0.08) * s
        recoil = (after(dt, 0.25) - 0.3 * spring(dt, 18.0, 6.0)) * s
        anim.matrices[main.index] = warps.translate(side * 0.05 * st.width * recoil, 0.0) @ warps.rotate_about(
            *main.feet, side * math.radians(9.0) * recoil
        )
        anim.repaints[main.index] = lambda rgba: dent.apply(rgba, -0.6 * hit)
        sx, sy = shaker.at(beat)
        anim.shake = (sx * 0.025 * st.width * hit, sy * 0.025 * st.height * hit, 0.0)
        burst = side * beat * 9.0 * st.width
        anim.overlays += [
            lambda f, p: warps.speed_lines(f, lines[0], lines[1], burst, 0.7 * hit),
            lambda f, p: warps.flash(f, 0.45 * after(dt, 0.03) * s),
        ]
        return anim

    return at


def balloon(st: Stage) -> Recipe:
    """The belly inflates: a bulge at mid-body growing over the clip, with a rubbery wobble."""
    plans = [(sub, warps.Bulge(sub.shape, sub.local(*sub.at(0.5, 0.5)), 0.75 * sub.w)) for sub in st.subjects]

    def at(t: float, beat: float, s: float) -> Animation:
        anim = st.animation()
        g = grow(t) * s
        wobble = 0.04 * math.sin(2.0 * math.pi * 2.0 * beat) * g
        for sub, bulge in plans:

            def repaint(rgba: Image, b: warps.Bulge = bulge) -> Image:
                return b.apply(rgba, 0.8 * g + wobble)

            anim.repaints[sub.index] = repaint
            anim.matrices[sub.index] = warps.scale_about(*sub.feet, 1.0 + 0.08 * g, 1.0)
        return anim

    return at


def kiss_kiss(st: Stage) -> Recipe:
    """Two subjects (or two halves of one) come together and tilt their heads in; hearts
    pop between them as they meet, in a pink glow."""
    approach = _approach(st, 9.0, 0.7)
    left, right = _pair(st)
    spec = _floating_hearts(st, 5)

    def at(t: float, beat: float, s: float) -> Animation:
        close = smoothstep(0.1, 0.7, t)
        anim = approach(close, s)
        love = smoothstep(0.55, 0.8, t) * s

        def hearts(frame: Image, project: Projector) -> Image:
            # Between the two heads wherever the subjects have moved to.
            lx, ly, _ = left.head()
            rx, ry, _ = right.head()
            (ax, ay), (bx, by) = project(left.index, lx, ly), project(right.index, rx, ry)
            mx, my = (ax + bx) / 2.0, (ay + by) / 2.0
            reach = abs(bx - ax) + 0.1 * st.height
            spots = []
            for jx, phase, size in spec:
                rise = (0.4 * beat + phase) % 1.0
                spots.append((mx + (jx - 0.5) * reach, my - rise * 0.25 * st.height, (0.6 + size) * 0.05 * st.height))
            return warps.hearts(frame, spots, (255.0, 60.0, 110.0), 0.9 * love)

        anim.overlays += [hearts, lambda f, p: warps.grade(f, (1.1, 0.94, 1.02), 0.5 * love)]
        return anim

    return at


RECIPES: dict[str, Callable[[Stage], Recipe]] = {
    "bikini up": bikini_up,
    "the tigers touch": tigers_touch,
    "jiggle jiggle": jiggle,
    "hug your love": hug,
    "kiss me ai": kiss_me,
    "subject 3 fever": fever,
    "fin-tastic mermaid": mermaid,
    "lets ymca": ymca,
    "skeleton dance": skeleton,
    "kungfu club": kungfu,
    "boom drop": boom_drop,
    "vroom vroom step": vroom,
    "creepy devil smile": devil,
    "pubg winner hit": winner,
    "360 microwave": microwave,
    "eye zoom challenge": eye_zoom,
    "muscle surge": muscle,
    "punch face": punch,
    "balloon belly": balloon,
    "kiss kiss": kiss_kiss,
}


# ----------------------------------------------------------------------------- planning


def split_subject(layer: Layer) -> tuple[Layer, Layer]:
    """Two layers from one: left and right of the subject's alpha-weighted centre column."""
    alpha = layer.rgba[:, :, 3].astype(np.float32)
    weights = alpha.sum(axis=0)
    centre = float((weights * np.arange(weights.size)).sum() / max(weights.sum(), 1.0))
    shape = layer.rgba.shape[:2]
    left = _cols_left_of(shape, centre, SPLIT_FEATHER)[:, :, None]
    halves = []
    for name, weight in (("left", left), ("right", 1.0 - left)):
        rgba = np.clip(layer.rgba.astype(np.float32) * weight + 0.5, 0, 255).astype(np.uint8)
        halves.append(Layer(rgba, layer.origin, layer.plane, Role.SUBJECT, f"{layer.name}-{name}"))
    return halves[0], halves[1]


def prepare_scene(effect: str, scene: Scene) -> Scene:
    """Interaction templates need two subjects: split a lone one into its two halves."""
    subjects = scene.subjects()
    if effect not in PAIR_EFFECTS or len(subjects) != 1:
        return scene
    index = subjects[0]
    left, right = split_subject(scene.layers[index])
    layers = [*scene.layers[:index], left, right, *scene.layers[index + 1 :]]
    return Scene(layers, scene.width, scene.height)


class EffectAnimator:
    """An effect bound to a scene's subjects: ``at(t, beat, strength)`` per frame."""

    def __init__(self, name: str, scene: Scene, rng: np.random.Generator) -> None:
        subjects = [
            Subject(i, scene.layers[i].anchor, scene.layers[i].origin, scene.layers[i].rgba.shape[:2])
            for i in scene.subjects()
        ]
        self.name = name
        self._recipe = RECIPES[name](Stage(sorted(subjects, key=lambda s: s.cx), scene.width, scene.height, rng))

    def at(self, t: float, beat: float, strength: float) -> Animation:
        return self._recipe(t, beat, strength)


def build_effect(name: str, scene: Scene, rng: np.random.Generator) -> EffectAnimator:
    """Plan ``name`` on ``scene`` (which must have a subject; the director ensures it).

    Effects work in canonical space; the camera is applied on top of them.
    """
    return EffectAnimator(name, scene, rng)
