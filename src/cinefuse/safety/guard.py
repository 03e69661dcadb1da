"""``ContentGuard``: the one safety object the runner holds (built once per worker process).

Runner contract (docs/api.md 3.2 ``safety.*``, section 2 ``nsfwContentDetected``):

1. Before generating, ``check_request(...)``: the positive prompt (when a mode is on) and
   the input images (when a mode is on or ``checkInputs``). Raises
   :class:`~cinefuse.errors.ContentFlagged` (fail every pending result with it) or
   :class:`~cinefuse.safety.base.SafetyUnavailable` (``inferenceError``: a check was asked
   for and this server has no backend to run it).
2. Per result, when the mode is not ``none``: wrap the engine's frames with
   ``inspector(mode, num_frames, tolerance).wrap(frames)`` and hand them to the encoder.
   A flag raises ``ContentFlagged`` out of the encoder, which deletes its partial file; the
   runner then records that result as an ``nsfwContentDetected`` error and never stores it.
   A result that encoded without raising was checked and gets ``NSFWContent: false``.

Without a backend (extra not installed, or ``safety_backend = "none"``) requests that ask
for no safety run as usual, and requests that do fail: the server never reports
``NSFWContent: false`` for a check it did not run, nor silently downgrades to the prompt
filter alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from cinefuse.media.frames import Frame
from cinefuse.safety.base import (
    FrameInspector,
    SafetyChecker,
    SafetyPolicy,
    SafetyUnavailable,
    check_images,
    parse_classes,
    should_check_inputs,
)
from cinefuse.safety.nudenet import NUDENET_LABELS, NudeNetChecker, missing_reason
from cinefuse.safety.prompt_filter import PromptFilter
from cinefuse.schemas.tasks import SafetyMode
from cinefuse.settings import SAFETY_BATCH_SIZE, Settings

NO_BACKEND_REASON = "no content safety backend is configured on this server"
DISABLED_REASON = "the content safety backend is disabled on this server (CINEFUSE_SAFETY_BACKEND=none)"


class ContentGuard:
    """Prompt filter + image checker + per-result frame inspectors, under one policy.

    ``checker`` None means no backend: ``unavailable_reason`` says why, and any request that
    needs an image check fails with it. ``policy`` carries the operator's thresholds and
    classes; each task's ``safety.tolerance`` picks the threshold.
    """

    def __init__(
        self,
        checker: SafetyChecker | None,
        *,
        policy: SafetyPolicy | None = None,
        prompt_filter: PromptFilter | None = None,
        batch_size: int = SAFETY_BATCH_SIZE,
        unavailable_reason: str = NO_BACKEND_REASON,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"safety batch_size must be >= 1, got {batch_size}")
        self.checker = checker
        self.policy = policy or SafetyPolicy()
        self.prompt_filter = prompt_filter or PromptFilter()
        self.batch_size = batch_size
        self.unavailable_reason = unavailable_reason

    @classmethod
    def from_settings(cls, settings: Settings) -> ContentGuard:
        """Build from settings (which refused bad thresholds and backends already); raises
        ``ValueError`` for a class the backend does not know, so the server refuses to start
        rather than check wrongly. The model itself loads on the first check."""
        policy = SafetyPolicy(
            settings.safety_threshold, settings.safety_tolerant_threshold, parse_classes(settings.safety_classes)
        )
        prompt_filter = PromptFilter.from_setting(settings.safety_prompt_terms)
        backend = settings.safety_backend
        if backend == "none":
            return cls(None, policy=policy, prompt_filter=prompt_filter, unavailable_reason=DISABLED_REASON)
        unknown = sorted(policy.classes - set(NUDENET_LABELS))
        if unknown:
            raise ValueError(f"unknown safety classes {unknown}; NudeNet knows {', '.join(NUDENET_LABELS)}")
        missing = missing_reason()
        checker = None if missing else NudeNetChecker(threads=settings.safety_threads)
        return cls(
            checker,
            policy=policy,
            prompt_filter=prompt_filter,
            batch_size=settings.safety_batch_size,
            unavailable_reason=f"the content safety backend is unavailable: {missing}",
        )

    @property
    def available(self) -> bool:
        return self.checker is not None

    def policy_for(self, tolerance: bool) -> SafetyPolicy:
        return self.policy.with_tolerance(tolerance)

    def check_request(
        self,
        *,
        mode: SafetyMode,
        check_inputs: bool,
        tolerance: bool,
        prompt: str,
        images: Mapping[str, Frame],
    ) -> None:
        """Everything checked before generation; ``images`` maps parameter path -> pixels.

        Order: the prompt (mode on), then backend availability (mode on, or images to
        check), then the images in one batch. Raises ``ContentFlagged`` or ``SafetyUnavailable``.
        """
        if mode != "none":
            self.prompt_filter.check(prompt)
        inputs = images if should_check_inputs(mode, check_inputs) else {}
        if mode == "none" and not inputs:
            return
        checker = self._require_checker()
        check_images(checker, self.policy_for(tolerance), inputs)

    def inspector(self, mode: SafetyMode, num_frames: int, tolerance: bool) -> FrameInspector:
        """A fresh inspector for one result's frame stream; ``mode`` must not be ``none``."""
        if mode == "none":
            raise ValueError("no inspector for safety mode 'none': stream the frames directly")
        return FrameInspector(self._require_checker(), self.policy_for(tolerance), mode, num_frames, self.batch_size)

    def _require_checker(self) -> SafetyChecker:
        if self.checker is None:
            raise SafetyUnavailable(f"Content safety check requested but {self.unavailable_reason}.")
        return self.checker
