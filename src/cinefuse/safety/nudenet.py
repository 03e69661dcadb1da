"""NudeNet backend: the ``320n`` detector (a YOLOv8n exported to ONNX) run by onnxruntime.

The model file ships inside the ``nudenet`` wheel (``nudenet/320n.onnx``, 12 MB), so it
loads with no network access at all. ``nudenet``'s licence text is AGPL-3.0 (and so is
the model's, per its ONNX metadata), which is why it is the optional extra ``safety``;
this module imports neither ``nudenet`` nor ``onnxruntime`` until a check runs, so the
server works without the extra (``missing_reason()`` says what is absent).

We run the ONNX file ourselves rather than through ``nudenet.NudeDetector`` because:

* speed: frames are downscaled (``INTER_AREA``, the long side to the model's 320 px)
  and padded only to the next multiple of the 32 px stride, not to a 320 x 320 square:
  a 16:9 frame costs a 320 x 192 input (about 40% less compute); scores are read with a
  vectorised pass instead of NudeDetector's per-anchor Python loop; batches are one call;
* channel order: the model was trained (Ultralytics) on RGB. NudeDetector turns a
  3-channel array with ``COLOR_RGBA2BGR`` and then ``swapRB`` again, so for ordinary
  images it feeds BGR; we feed RGB, which is what our frames are.
* verdicts need per-class scores, not boxes: a class's score is the highest confidence
  among the anchors whose best class it is (NudeDetector's class assignment), taken
  *before* non-maximum suppression, which is class-agnostic there and could hide an
  explicit box under an overlapping face box. This never scores lower than NudeDetector.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from cinefuse.media.frames import Frame
from cinefuse.safety.base import FrameVerdict, SafetyPolicy, as_rgb_frame

#: The detector's classes, in the order of its output channels (checked against the
#: model's own metadata when it loads).
NUDENET_LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
#: The model file inside the ``nudenet`` package, its input size and stride (pixels).
MODEL_FILE = "320n.onnx"
INPUT_SIZE = 320
STRIDE = 32
#: onnxruntime intra-op threads per check. The worker runs the check inline between
#: frames, so 2 (this machine's cores) is the sensible default; see bench/bench_safety.py.
DEFAULT_THREADS = 2
#: YOLOv8 output rows: 4 box coordinates, then one score per class.
_BOX_ROWS = 4
_PIXEL_SCALE = 1.0 / 255.0
INSTALL_HINT = "install the 'safety' extra: pip install 'cinefuse[safety]'"


def missing_reason() -> str | None:
    """None when this backend can run here; otherwise what is missing, for the operator."""
    for module in ("nudenet", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({INSTALL_HINT})"
    return None


def model_path() -> Path:
    """Where the wheel put the ONNX file (found without importing ``nudenet``'s code)."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"nudenet is not installed ({INSTALL_HINT})")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


def detector_size(height: int, width: int) -> tuple[int, int]:
    """``(h, w)`` a frame is downscaled to: long side at most ``INPUT_SIZE``, aspect kept.

    Idempotent (a frame already that size maps to itself), which is what makes
    ``prepare`` safe to apply before ``check_frames``.
    """
    scale = INPUT_SIZE / max(height, width)
    if scale >= 1.0:
        return height, width
    return max(1, round(height * scale)), max(1, round(width * scale))


def _padded(size: int) -> int:
    return max(STRIDE, math.ceil(size / STRIDE) * STRIDE)


class NudeNetChecker:
    """:class:`~cinefuse.safety.base.SafetyChecker` backed by NudeNet's ``320n`` detector.

    The ONNX session is created on first use (or by ``load()``), once per instance and
    thread-safely; share one instance per process. ``threads`` is onnxruntime's intra-op
    thread count. Cost on this 2-core CPU, 720p frames in batches of 8: about 10 ms per
    frame on an idle machine, 16 ms on a busy one (``bench/bench_safety.py``).
    """

    name = "nudenet"

    def __init__(self, threads: int = DEFAULT_THREADS, path: Path | None = None) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self.path = path
        self._session: Any = None  # onnxruntime.InferenceSession, imported lazily
        self._input_name = ""
        self._lock = threading.Lock()

    def load(self) -> None:
        """Create the onnxruntime session now (idempotent); raises if the model is unusable."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # errors only
            # Do not busy-wait between calls: the encoder's threads need the cores then.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            path = self.path or model_path()
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            _check_metadata(path, session.get_modelmeta().custom_metadata_map)
            self._input_name = session.get_inputs()[0].name
            self._session = session

    def prepare(self, frame: Frame) -> Frame:
        """A copy downscaled to the detector's size (``check_frames`` does the same)."""
        return _downscale(as_rgb_frame(frame), copy=True)

    def check_frames(self, frames: Sequence[Frame], policy: SafetyPolicy) -> list[FrameVerdict]:
        """One model call for the whole batch; frames may differ in size."""
        if not frames:
            return []
        scores = self.scores(frames)
        return [policy.judge(dict(zip(NUDENET_LABELS, row.tolist(), strict=True))) for row in scores]

    def scores(self, frames: Sequence[Frame]) -> npt.NDArray[np.float32]:
        """Per-class scores, shape ``(len(frames), len(NUDENET_LABELS))``, in ``0..1``."""
        self.load()
        small = [_downscale(as_rgb_frame(frame), copy=False) for frame in frames]
        height = _padded(max(f.shape[0] for f in small))
        width = _padded(max(f.shape[1] for f in small))
        batch = np.zeros((len(small), 3, height, width), np.float32)
        for i, f in enumerate(small):
            batch[i, :, : f.shape[0], : f.shape[1]] = f.transpose(2, 0, 1)
        batch *= _PIXEL_SCALE
        output: npt.NDArray[np.float32] = self._session.run(None, {self._input_name: batch})[0]
        class_scores = output[:, _BOX_ROWS:, :]  # (batch, classes, anchors)
        best_class = class_scores.argmax(axis=1)  # (batch, anchors)
        own = best_class[:, None, :] == np.arange(len(NUDENET_LABELS))[None, :, None]
        result: npt.NDArray[np.float32] = np.where(own, class_scores, 0.0).max(axis=2)
        return result


def _downscale(frame: Frame, *, copy: bool) -> Frame:
    height, width = frame.shape[:2]
    target = detector_size(height, width)
    if target == (height, width):
        return frame.copy() if copy else frame
    return np.asarray(cv2.resize(frame, (target[1], target[0]), interpolation=cv2.INTER_AREA), np.uint8)


def _check_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Refuse a model whose classes or input size are not the ones this module assumes."""
    names = ast.literal_eval(metadata.get("names", "{}"))
    labels = tuple(names[i] for i in sorted(names))
    if labels != NUDENET_LABELS:
        raise RuntimeError(f"{path}: unexpected NudeNet classes {labels}")
    if ast.literal_eval(metadata.get("imgsz", "None")) != [INPUT_SIZE, INPUT_SIZE]:
        raise RuntimeError(f"{path}: unexpected NudeNet input size {metadata.get('imgsz')}")
