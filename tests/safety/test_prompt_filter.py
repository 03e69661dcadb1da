"""Prompt filter: explicit terms caught (also obfuscated), innocent words left alone."""

from __future__ import annotations

import pytest

from cinefuse.errors import ContentFlagged
from cinefuse.safety.prompt_filter import PromptFilter, normalise

FILTER = PromptFilter()


@pytest.mark.parametrize(
    "prompt",
    [
        "a nude woman on a beach",
        "NSFW anime girl",
        "porn scene in a hotel",
        "Pornographic film still",
        "two people having sex",
        "explicit sex scene, 4k",
        "topless dancer",
        "a naked man running",
        "hentai style",
        "exposed breasts",
        "close-up of nipples",
        "erotic massage",
        "p0rn",
        "PoRn",
        "$ex tape",
        "s3x scene",
        "nak3d",
        "n u d e beach",
        "draw a n u d e",
        "p.o.r.n",
        "N-S-F-W",
        "pörn",
        "ｎｕｄｅ",  # full-width letters
        "nu\u200bde",  # zero-width space inside the word
        "nude, cinematic",
        "nude.",
        "a scene of full nudity",
        "models undressing",
    ],
)
def test_explicit_prompts_are_flagged(prompt: str) -> None:
    assert FILTER.find(prompt) is not None
    with pytest.raises(ContentFlagged) as caught:
        FILTER.check(prompt)
    assert caught.value.code == "nsfwContentDetected"
    assert caught.value.parameter == "positivePrompt"


@pytest.mark.parametrize(
    "prompt",
    [
        "a cottage in Essex",
        "a therapist listens to a patient",
        "cocktail bar at night, neon",
        "Scunthorpe United fans celebrate",
        "Sussex and Middlesex by train",
        "Uranus and its rings",
        "data analysis dashboard",
        "a rapeseed field in bloom",
        "an old sextant on a ship",
        "the sex of the chick is unknown",
        "a model in nude lipstick",
        "nude-colour heels on a shelf",
        "visible to the naked eye",
        "a naked mole rat",
        "a nudibranch underwater",
        "a rooster, a cock crowing at dawn",
        "Dick Van Dyke dancing",
        "a pussy cat on a sofa",
        "classic cars, 1080p, 4k, 24fps",
        "titanic sinking",
        "a pedometer on a wrist",
        "Grapes and a glass of wine",
        "assassin on a rooftop",
        "a b c blocks",
    ],
)
def test_innocent_prompts_pass(prompt: str) -> None:
    assert FILTER.find(prompt) is None
    FILTER.check(prompt)


def test_operator_terms_are_literal_whole_words() -> None:
    custom = PromptFilter.from_setting("gore, blood bath ,a.b")
    assert custom.find("GORE everywhere") == "gore"
    assert custom.find("a blood-bath") == "blood-bath"
    assert custom.find("a.b") == "a.b"
    assert custom.find("gorey story about aab") is None  # literal, not a pattern; whole words only
    assert custom.find("a nude figure") == "nude"  # built-in terms stay
    assert PromptFilter.from_setting("").terms == FILTER.terms


def test_normalise() -> None:
    assert normalise("P0rN 1080p") == "porn io8op"  # leet undone only in tokens holding a letter
    assert normalise("1080 24") == "1080 24"
    assert normalise("Crème\u200b") == "creme"
