"""The virtual camera: poses, plane homographies and the 21 camera paths of docs/api.md.

A :class:`Pose` is the camera's displacement from rest: a position (world units, x right,
y down, z forward), yaw/pitch/roll (radians; yaw > 0 turns left, pitch > 0 tilts down) and
a zoom factor on the focal length. A plane seen from a pose maps canonical pixels to output
pixels by the plane-induced homography ``K' R (I - T n^T / d) K^-1``: translations give
parallax (near planes move more), rotations and zoom move every plane alike, which is what
distinguishes a pan from a truck and a zoom from a dolly.

A *path* maps ``progress`` (``speed * ease(t)``, see :mod:`.motion`; 1 at the end of a
normal-speed clip, up to 1.6 in fast mode) to a :class:`Shot`: the pose plus an optional
world-space shift of the subject layers (follow moves and ``fix_bg`` move the subject, not
just the camera). Every path is the identity at progress 0, which is what lets a first
keyframe land exactly on frame 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from cinefuse.models.pixverse import CAMERA_MOVEMENTS

from .layers import Matrix, Plane, Scene, f64
from .motion import FAST_SPEED, Clock

#: The values docs/api.md section 3.2 allows, from the model's capability description.
CAMERA_MOVES: tuple[str, ...] = CAMERA_MOVEMENTS

#: Sideways/vertical camera travel, as a fraction of the frame width the subject shifts by.
TRUCK_SHIFT = 0.16
#: Pan angle at progress 1 (a pan is a rotation: every depth shifts alike).
PAN_ANGLE = math.radians(9.0)
#: Zoom factors at progress 1.
ZOOM_FACTOR = 1.45
QUICK_ZOOM_FACTOR = 1.8
SMOOTH_ZOOM_FACTOR = 1.25
#: "Quickly" zooms complete their move in this fraction of the progress, then settle.
QUICK_ZOOM_SPAN = 0.45
#: Dolly-out distances as multiples of the subject depth.
SUPER_DOLLY_OUT = 1.1
HITCHCOCK_DOLLY = 0.8
#: Orbit (``camera_rotation``): arc around the subject plus a roll.
ORBIT_ANGLE = math.radians(18.0)
ORBIT_ROLL = math.radians(7.0)
#: Crane: rise as a multiple of subject depth; the tilt follows by looking at the subject.
CRANE_RISE = 0.16
#: A descending camera stops short of the ground: at most this fraction of its height.
DESCENT_LIMIT = 0.45
#: A camera pulling back over the ground keeps the ground at the bottom of the frame at
#: least this fraction of its resting distance ahead (see Rig.keep_ground_ahead).
GROUND_KEEP = 0.4
#: Whip pan: angle and the progress window in which the swing happens.
WHIP_ANGLE = math.radians(28.0)
WHIP_WINDOW = (0.3, 0.62)
#: Image scenes end at the picture's edge: their big rotations, zoom outs (in log scale)
#: and follow travels are scaled by this.
IMAGE_SWING_SCALE = 0.45
#: Follow moves: subject travel (multiple of subject depth) and its walking bob.
FOLLOW_TRAVEL = 0.9
FOLLOW_STEPS = 5.0
FOLLOW_BOB = 0.012
#: The camera trails the subject by this fraction of its travel (so the follow reads).
FOLLOW_LAG = 0.12
#: fix_bg: the subject's travel (multiple of subject depth) towards the camera and sideways.
FIX_BG_SIDE = 0.35
FIX_BG_APPROACH = 0.25
#: Dolly in used by auto_camera for a centred subject.
PUSH_IN = 0.3
#: Amplitude of the default move when the request names none.
GENTLE_SCALE = 0.4


@dataclass(frozen=True)
class Pose:
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    zoom: float = 1.0

    def relative_to(self, end: Pose) -> Pose:
        """This pose with ``end`` taken as rest (pins a clip's last frame)."""
        return Pose(
            self.x - end.x,
            self.y - end.y,
            self.z - end.z,
            self.yaw - end.yaw,
            self.pitch - end.pitch,
            self.roll - end.roll,
            self.zoom / end.zoom,
        )

    def jolted(self, dx: float, dy: float, droll: float = 0.0, zoom: float = 1.0) -> Pose:
        """Add a screen-space shake (effects): small yaw/pitch offsets in radians."""
        return replace(self, yaw=self.yaw + dx, pitch=self.pitch + dy, roll=self.roll + droll, zoom=self.zoom * zoom)


@dataclass(frozen=True)
class Shot:
    """One frame of a path: the pose and the subject layers' own world displacement."""

    pose: Pose
    subject_shift: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def relative_to(self, end: Shot) -> Shot:
        shift = tuple(a - b for a, b in zip(self.subject_shift, end.subject_shift, strict=True))
        return Shot(self.pose.relative_to(end.pose), (shift[0], shift[1], shift[2]))


@dataclass(frozen=True)
class Rig:
    """What a path needs to know about the scene (all in canonical units)."""

    width: int
    height: int
    subject_depth: float
    subject_centre: tuple[float, float]
    image_scene: bool = False
    direction: float = 1.0  # +1 or -1, seed-chosen for the moves that have no side
    ground: Plane | None = None  # the scene's ground plane, if it has one

    @property
    def focal(self) -> float:
        return float(self.width)

    @staticmethod
    def for_scene(scene: Scene, image_scene: bool, direction: float = 1.0, ground: Plane | None = None) -> Rig:
        x0, y0, x1, y1 = scene.subject_box()
        return Rig(
            scene.width,
            scene.height,
            scene.subject_depth(),
            ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
            image_scene,
            direction,
            ground,
        )

    @property
    def clearance(self) -> float:
        """Camera height above the ground plane (infinite without one)."""
        return self.ground.distance if self.ground is not None else math.inf

    def keep_ground_ahead(self, pose: Pose) -> Pose:
        """Raise a camera that pulls back over a ground plane.

        The ground layer is a picture of the ground seen from the resting camera; ground
        behind that camera is in no picture. Pulling back, the bottom of the frame would
        come to look at it, so the camera rises just enough that the bottom row meets the
        ground at least GROUND_KEEP of its resting distance in front of the resting camera.
        """
        if self.ground is None or pose.z >= 0.0:
            return pose
        reach = self.ground.depth_at(self.width / 2.0, float(self.height), self.width, self.height, self.focal)
        rise = self.clearance * max(-pose.z / reach - (1.0 - GROUND_KEEP), 0.0)
        return replace(pose, y=pose.y - rise)

    def subject_point(self) -> tuple[float, float, float]:
        """World position of the subject centre at rest."""
        z = self.subject_depth
        sx, sy = self.subject_centre
        return (sx - self.width / 2.0) * z / self.focal, (sy - self.height / 2.0) * z / self.focal, z

    def truck_distance(self) -> float:
        """World travel that shifts the subject by TRUCK_SHIFT of the frame width."""
        return TRUCK_SHIFT * self.subject_depth

    def swing(self, angle: float) -> float:
        return angle * IMAGE_SWING_SCALE if self.image_scene else angle


Path = Callable[[float], Shot]


def rotation(yaw: float, pitch: float, roll: float) -> Matrix:
    """World -> camera rotation: yaw about y, then pitch about x, then roll about z."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    r_yaw = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    r_pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return f64(r_roll @ r_pitch @ r_yaw)


def intrinsics(focal: float, width: int, height: int) -> Matrix:
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def homography(pose: Pose, plane: Plane, width: int, height: int, focal: float) -> Matrix:
    """Canonical pixel -> output pixel for points of ``plane`` seen from ``pose``."""
    k0 = intrinsics(focal, width, height)
    k1 = intrinsics(focal * pose.zoom, width, height)
    t = np.array([[pose.x], [pose.y], [pose.z]])
    n = np.array([plane.normal])
    h = k1 @ rotation(pose.yaw, pose.pitch, pose.roll) @ (np.eye(3) - t @ n / plane.distance) @ np.linalg.inv(k0)
    return f64(h / h[2, 2])


def subject_motion(shift: tuple[float, float, float], depth: float, rig: Rig) -> Matrix:
    """Canonical-space matrix moving a fronto subject plane by a world ``shift``."""
    dx, dy, dz = shift
    scale = depth / (depth + dz)
    cx, cy = rig.width / 2.0, rig.height / 2.0
    return np.array(
        [
            [scale, 0.0, cx - scale * cx + rig.focal * dx / (depth + dz)],
            [0.0, scale, cy - scale * cy + rig.focal * dy / (depth + dz)],
            [0.0, 0.0, 1.0],
        ]
    )


def look_at(position: tuple[float, float, float], target: tuple[float, float, float]) -> tuple[float, float]:
    """Yaw and pitch (our sign conventions) that put ``target`` on the optical axis."""
    dx, dy, dz = (target[i] - position[i] for i in range(3))
    yaw = math.atan2(-dx, dz)
    pitch = math.atan2(dy, math.hypot(dx, dz))
    return yaw, pitch


def _aimed(rig: Rig, x: float, y: float, z: float) -> Pose:
    """A pose at (x, y, z) that keeps the subject where it was on screen at rest."""
    target = rig.subject_point()
    yaw0, pitch0 = look_at((0.0, 0.0, 0.0), target)
    yaw, pitch = look_at((x, y, z), target)
    return Pose(x, y, z, yaw=yaw - yaw0, pitch=pitch - pitch0)


def _zoom(factor: float, curve: Callable[[float], float] = lambda p: p) -> Callable[[Rig], Path]:
    def build(rig: Rig) -> Path:
        log_factor = math.log(factor)
        if factor < 1.0 and rig.image_scene:
            log_factor *= IMAGE_SWING_SCALE  # an image has nothing beyond its edges to reveal
        return lambda p: Shot(Pose(zoom=math.exp(log_factor * curve(p))))

    return build


def _quick(p: float) -> float:
    """Most of a quick zoom happens early; beyond it the move keeps creeping (fast mode)."""
    head = 1.0 - (1.0 - min(p / QUICK_ZOOM_SPAN, 1.0)) ** 3
    return head + 0.15 * max(p - QUICK_ZOOM_SPAN, 0.0)


def _truck(sx: float, sy: float) -> Callable[[Rig], Path]:
    """Sideways or vertical travel: the same world distance either way, so every depth
    shifts on screen as far vertically as it does sideways. Going down over a ground, the
    camera starts above its resting height by what the ground's clearance cannot give, so
    it travels the full distance and still stops well above the ground (fast mode too)."""

    def build(rig: Rig) -> Path:
        travel = rig.truck_distance()
        start = min(0.0, DESCENT_LIMIT * rig.clearance - travel * FAST_SPEED) if sy > 0 else 0.0
        return lambda p: Shot(Pose(x=sx * travel * p, y=start + sy * travel * p))

    return build


def _pan(sign: float) -> Callable[[Rig], Path]:
    return lambda rig: lambda p: Shot(Pose(yaw=sign * rig.swing(PAN_ANGLE) * p))


def _crane(rig: Rig) -> Path:
    rise = CRANE_RISE * rig.subject_depth
    return lambda p: Shot(_aimed(rig, 0.0, -rise * p, 0.0))


def _orbit(rig: Rig) -> Path:
    _, _, z = rig.subject_point()

    def path(p: float) -> Shot:
        angle = rig.direction * rig.swing(ORBIT_ANGLE) * p
        pose = _aimed(rig, -z * math.sin(angle), 0.0, z * (1.0 - math.cos(angle)))
        return Shot(replace(pose, roll=rig.direction * ORBIT_ROLL * p))

    return path


def _super_dolly_out(rig: Rig) -> Path:
    return lambda p: Shot(Pose(z=-SUPER_DOLLY_OUT * rig.subject_depth * p))


def _hitchcock(rig: Rig) -> Path:
    """Dolly out while zooming in so the subject plane keeps its size (the Vertigo shot)."""
    z = rig.subject_depth

    def path(p: float) -> Shot:
        back = HITCHCOCK_DOLLY * z * p
        return Shot(Pose(z=-back, zoom=(z + back) / z))

    return path


def _push_in(rig: Rig) -> Path:
    return lambda p: Shot(_aimed(rig, 0.0, 0.0, PUSH_IN * rig.subject_depth * p))


def _whip(rig: Rig) -> Path:
    lo, hi = WHIP_WINDOW
    angle = rig.direction * rig.swing(WHIP_ANGLE)

    def path(p: float) -> Shot:
        u = min(max((p - lo) / (hi - lo), 0.0), 1.0)
        # A whip is a flick: quick acceleration, a small overshoot, a settle.
        swing = u * u * (3.0 - 2.0 * u) + 0.08 * math.sin(math.pi * u) * u
        drift = 0.06 * p  # the operator is already drifting before the flick
        return Shot(Pose(yaw=angle * (swing + drift)))

    return path


def _robo_arm(rig: Rig) -> Path:
    """Segments with precise starts and stops, several axes at once, separated by holds."""
    z = rig.subject_depth
    side = rig.direction
    # (start, end, (x, y, z, yaw, pitch, roll, log-zoom) deltas over the segment)
    segments = (
        (0.0, 0.42, (side * 0.18 * z, 0.0, 0.18 * z, 0.0, 0.0, side * math.radians(-4.0), 0.0)),
        (0.52, 1.0, (0.0, -0.14 * z, 0.0, side * math.radians(-5.0), 0.0, side * math.radians(4.0), 0.12)),
        (1.08, 1.6, (-side * 0.12 * z, 0.08 * z, 0.12 * z, 0.0, math.radians(2.0), 0.0, 0.1)),
    )

    def path(p: float) -> Shot:
        acc = np.zeros(7)
        for start, end, delta in segments:
            u = min(max((p - start) / (end - start), 0.0), 1.0)
            acc += np.array(delta) * (u * u * u * (u * (u * 6.0 - 15.0) + 10.0))
        aimed = _aimed(rig, acc[0], acc[1], acc[2])
        return Shot(Pose(acc[0], acc[1], acc[2], aimed.yaw + acc[3], aimed.pitch + acc[4], acc[5], math.exp(acc[6])))

    return path


def _follow(sign: float) -> Callable[[Rig], Path]:
    """The subject walks sideways; the camera trucks with it, trailing a little."""

    def build(rig: Rig) -> Path:
        travel = FOLLOW_TRAVEL * rig.subject_depth * (IMAGE_SWING_SCALE if rig.image_scene else 1.0)

        def path(p: float) -> Shot:
            walk = sign * travel * p
            bob = -abs(math.sin(math.pi * FOLLOW_STEPS * p)) * FOLLOW_BOB * rig.subject_depth
            return Shot(Pose(x=walk * (1.0 - FOLLOW_LAG)), (walk, bob, 0.0))

        return path

    return build


def _fix_bg(rig: Rig) -> Path:
    """Camera locked off; the subject crosses and approaches, so only it moves."""
    z = rig.subject_depth

    def path(p: float) -> Shot:
        return Shot(Pose(), (rig.direction * FIX_BG_SIDE * z * p, 0.0, -FIX_BG_APPROACH * z * p))

    return path


MOVE_BUILDERS: dict[str, Callable[[Rig], Path]] = {
    "horizontal_left": _truck(-1.0, 0.0),
    "horizontal_right": _truck(1.0, 0.0),
    "vertical_up": _truck(0.0, -1.0),
    "vertical_down": _truck(0.0, 1.0),
    "zoom_in": _zoom(ZOOM_FACTOR),
    "zoom_out": _zoom(1.0 / ZOOM_FACTOR),
    "crane_up": _crane,
    "quickly_zoom_in": _zoom(QUICK_ZOOM_FACTOR, _quick),
    "quickly_zoom_out": _zoom(1.0 / QUICK_ZOOM_FACTOR, _quick),
    "smooth_zoom_in": _zoom(SMOOTH_ZOOM_FACTOR),
    "camera_rotation": _orbit,
    "robo_arm": _robo_arm,
    "super_dolly_out": _super_dolly_out,
    "whip_pan": _whip,
    "hitchcock": _hitchcock,
    "left_follow": _follow(-1.0),
    "right_follow": _follow(1.0),
    "pan_left": _pan(1.0),
    "pan_right": _pan(-1.0),
    "fix_bg": _fix_bg,
    "push_in": _push_in,  # not on the wire: auto_camera's choice for a centred subject
}

#: Moves the default (no cameraMovement) drift is drawn from, at GENTLE_SCALE amplitude.
GENTLE_MOVES: tuple[str, ...] = (
    "push_in",
    "horizontal_left",
    "horizontal_right",
    "pan_left",
    "pan_right",
    "camera_rotation",
    "crane_up",
    "smooth_zoom_in",
)


def auto_move(rig: Rig, has_subject: bool) -> str:
    """``auto_camera``: pick a move from the content (our rule, documented in the docs).

    Portrait frames rise (crane); a centred subject gets a push in, an off-centre one a
    truck towards it (bringing it to the centre); a landscape without subject pans.
    """
    if rig.height > rig.width:
        return "crane_up"
    if not has_subject:
        return "pan_left" if rig.direction > 0 else "pan_right"
    offset = (rig.subject_centre[0] - rig.width / 2.0) / rig.width
    if abs(offset) < 0.12:
        return "push_in"
    return "horizontal_right" if offset > 0 else "horizontal_left"


@dataclass(frozen=True)
class CameraTrack:
    """A path bound to a clip's clock and keyframe pins.

    * no pin or first pinned: progress ``speed * ease(t)`` starts at rest.
    * only the last pinned: the same path, expressed relative to its final shot.
    * both pinned: progress ``speed * sin^2(pi t)`` goes out and comes back to rest.
    """

    path: Path
    clock: Clock
    rig: Rig
    amplitude: float = 1.0

    def progress(self, t: float) -> float:
        if self.clock.pin_first and self.clock.pin_last:
            return self.clock.speed * math.sin(math.pi * t) ** 2 * self.amplitude
        return self.clock.progress(t) * self.amplitude

    def shot(self, t: float) -> Shot:
        shot = self._guarded(self.progress(t))
        if self.clock.pin_last and not self.clock.pin_first:
            return shot.relative_to(self._guarded(self.progress(1.0)))
        return shot

    def _guarded(self, progress: float) -> Shot:
        shot = self.path(progress)
        return Shot(self.rig.keep_ground_ahead(shot.pose), shot.subject_shift)


def build_track(move: str | None, rig: Rig, clock: Clock, has_subject: bool, gentle_pick: int) -> CameraTrack:
    """The camera track for a request's ``cameraMovement`` (``None``: a seed-chosen drift)."""
    if move is None:
        name = GENTLE_MOVES[gentle_pick % len(GENTLE_MOVES)]
        return CameraTrack(MOVE_BUILDERS[name](rig), clock, rig, GENTLE_SCALE)
    if move == "auto_camera":
        move = auto_move(rig, has_subject)
    return CameraTrack(MOVE_BUILDERS[move](rig), clock, rig)
