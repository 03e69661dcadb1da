"""The runner-facing guard: request checks (prompt, input images), inspectors, settings,
and refusing to claim a check when no backend can run it."""

from __future__ import annotations

import numpy as np
import pytest

from cinefuse.errors import ContentFlagged
from cinefuse.safety.base import SafetyPolicy, SafetyUnavailable
from cinefuse.safety.guard import DISABLED_REASON, ContentGuard
from cinefuse.safety.memory import ScriptedChecker, marked_frame
from cinefuse.safety.nudenet import NudeNetChecker, missing_reason
from cinefuse.settings import Settings

CLEAN = "a lighthouse on a cliff at sunset, cinematic"
EXPLICIT = "a nude woman on a beach"
IMAGE = "inputs.frameImages[0].inputImage"


def FakeSettings(**changes: object) -> Settings:
    """Real settings with the given safety fields (no environment involved)."""
    return Settings.model_validate(changes)


def guard_with(checker: ScriptedChecker | None) -> ContentGuard:
    return ContentGuard(checker)


def test_a_flagged_prompt_fails_before_anything_else_when_a_mode_is_on() -> None:
    checker = ScriptedChecker()
    with pytest.raises(ContentFlagged) as caught:
        guard_with(checker).check_request(mode="fast", check_inputs=False, tolerance=False, prompt=EXPLICIT, images={})
    assert caught.value.code == "nsfwContentDetected"
    assert caught.value.parameter == "positivePrompt"
    assert checker.calls == []


def test_the_prompt_is_not_filtered_when_safety_is_off() -> None:
    guard_with(None).check_request(mode="none", check_inputs=False, tolerance=False, prompt=EXPLICIT, images={})


def test_input_images_are_checked_in_one_batch_when_a_mode_is_on() -> None:
    checker = ScriptedChecker.for_indices({2})
    images = {f"inputs.referenceImages[{i}]": marked_frame(i, 32, 48) for i in range(3)}
    with pytest.raises(ContentFlagged) as caught:
        guard_with(checker).check_request(mode="fast", check_inputs=False, tolerance=False, prompt=CLEAN, images=images)
    assert caught.value.parameter == "inputs.referenceImages[2]"
    assert checker.calls == [3]


def test_check_inputs_alone_checks_images_but_not_the_prompt() -> None:
    checker = ScriptedChecker.for_indices({0})
    with pytest.raises(ContentFlagged) as caught:
        guard_with(checker).check_request(
            mode="none", check_inputs=True, tolerance=False, prompt=EXPLICIT, images={IMAGE: marked_frame(0)}
        )
    assert caught.value.parameter == IMAGE


def test_nothing_is_checked_when_safety_is_off() -> None:
    checker = ScriptedChecker.flagging_all()
    guard_with(checker).check_request(
        mode="none", check_inputs=False, tolerance=False, prompt=CLEAN, images={IMAGE: marked_frame(0)}
    )
    assert checker.calls == []


def test_clean_requests_pass_and_tolerance_reaches_the_image_check() -> None:
    checker = ScriptedChecker.for_indices({0}, score=0.7)
    guard = guard_with(checker)
    guard.check_request(mode="full", check_inputs=True, tolerance=True, prompt=CLEAN, images={IMAGE: marked_frame(0)})
    assert checker.policies[-1].tolerance
    with pytest.raises(ContentFlagged):
        guard.check_request(
            mode="full", check_inputs=True, tolerance=False, prompt=CLEAN, images={IMAGE: marked_frame(0)}
        )


def test_inspectors_carry_mode_tolerance_and_batch_size() -> None:
    guard = ContentGuard(ScriptedChecker(), batch_size=5)
    inspector = guard.inspector("full", 80, tolerance=True)
    assert (inspector.mode, inspector.num_frames, inspector.batch_size) == ("full", 80, 5)
    assert inspector.policy.tolerance
    with pytest.raises(ValueError, match="none"):
        guard.inspector("none", 80, tolerance=False)


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_without_a_backend_a_requested_check_fails_instead_of_being_claimed(mode: str) -> None:
    guard = ContentGuard(None)
    assert not guard.available
    with pytest.raises(SafetyUnavailable, match="no content safety backend") as caught:
        guard.check_request(mode=mode, check_inputs=False, tolerance=False, prompt=CLEAN, images={})  # type: ignore[arg-type]
    assert caught.value.code == "inferenceError"
    with pytest.raises(SafetyUnavailable):
        guard.inspector(mode, 80, tolerance=False)  # type: ignore[arg-type]


def test_without_a_backend_the_prompt_filter_still_answers_first() -> None:
    with pytest.raises(ContentFlagged):
        ContentGuard(None).check_request(mode="fast", check_inputs=False, tolerance=False, prompt=EXPLICIT, images={})


def test_without_a_backend_check_inputs_fails_only_when_there_are_images() -> None:
    guard = ContentGuard(None)
    guard.check_request(mode="none", check_inputs=True, tolerance=False, prompt=CLEAN, images={})
    with pytest.raises(SafetyUnavailable):
        guard.check_request(
            mode="none", check_inputs=True, tolerance=False, prompt=CLEAN, images={IMAGE: marked_frame(0)}
        )


def test_from_settings_builds_the_nudenet_backend_lazily() -> None:
    if missing_reason() is not None:
        pytest.skip("the optional 'safety' extra (nudenet) is not installed")
    guard = ContentGuard.from_settings(FakeSettings(safety_threads=1, safety_batch_size=4))
    assert isinstance(guard.checker, NudeNetChecker)
    assert guard.checker.threads == 1 and guard.batch_size == 4
    assert guard.policy == SafetyPolicy()


def test_from_settings_reads_thresholds_classes_and_prompt_terms() -> None:
    settings = FakeSettings(
        safety_backend="none",
        safety_threshold=0.5,
        safety_tolerant_threshold=0.9,
        safety_classes="FEET_EXPOSED",
        safety_prompt_terms="bananas, Cursed Thing",
    )
    guard = ContentGuard.from_settings(settings)
    assert guard.policy == SafetyPolicy(0.5, 0.9, frozenset({"FEET_EXPOSED"}))
    assert guard.prompt_filter.find("two cursed things") is None  # whole words only
    assert guard.prompt_filter.find("a Cursed\tThing!") == "cursed\tthing"
    assert guard.prompt_filter.find("BANANAS!") == "bananas"


def test_backend_none_refuses_checks_with_a_clear_reason() -> None:
    guard = ContentGuard.from_settings(FakeSettings(safety_backend="none"))
    assert guard.checker is None and guard.unavailable_reason == DISABLED_REASON
    with pytest.raises(SafetyUnavailable, match="SAFETY_BACKEND=none"):
        guard.inspector("fast", 80, tolerance=False)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"safety_backend": "magic"}, "safety_backend"),
        ({"safety_classes": "FEMALE_BREAST_EXPOSED,NOT_A_CLASS"}, "unknown safety classes"),
        ({"safety_classes": " , "}, "at least one class"),
        ({"safety_threshold": 0.9}, "stricter"),
        ({"safety_batch_size": 0}, "batch_size"),
    ],
)
def test_from_settings_refuses_misconfiguration(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ContentGuard.from_settings(FakeSettings(**changes))


def test_missing_extra_makes_the_guard_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import cinefuse.safety.guard as guard_module

    monkeypatch.setattr(guard_module, "missing_reason", lambda: "nudenet is not installed (install the extra)")
    guard = ContentGuard.from_settings(FakeSettings())
    assert not guard.available
    with pytest.raises(SafetyUnavailable, match="nudenet is not installed"):
        guard.check_request(mode="fast", check_inputs=False, tolerance=False, prompt=CLEAN, images={})
    # Requests without safety are unaffected.
    guard.check_request(
        mode="none", check_inputs=False, tolerance=False, prompt=CLEAN, images={IMAGE: np.zeros((4, 4, 3), np.uint8)}
    )
