"""Reading a prompt: which scene elements its words ask for, and which they forbid.

The preview engine has no language model. It looks for the words in :data:`THEMES` and
:data:`SUBJECTS`; a trait is on when one of its words appears in the positive prompt and
none of its words is negated, either by the negative prompt or inline ("no water",
"without trees"). Everything the prompt does not decide (exact colours, positions,
shapes) comes from the seed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: Scene themes and the words that switch them on. A negated word removes its whole trait.
THEMES: dict[str, frozenset[str]] = {
    "sunset": frozenset({"sunset", "sunrise", "dusk", "dawn", "golden", "twilight", "evening"}),
    "night": frozenset({"night", "moon", "moonlight", "midnight", "stars", "starry", "nocturnal"}),
    "water": frozenset({"water", "ocean", "sea", "lake", "river", "beach", "waves", "coast", "pond", "shore", "surf"}),
    "forest": frozenset({"forest", "tree", "trees", "woods", "jungle", "pine", "pines", "woodland"}),
    "snow": frozenset({"snow", "snowy", "winter", "ice", "icy", "frozen", "arctic", "glacier"}),
    "desert": frozenset({"desert", "dune", "dunes", "sand", "sandy", "sahara", "canyon", "arid"}),
    "city": frozenset(
        {"city", "street", "skyline", "building", "buildings", "urban", "downtown", "skyscraper", "town"}
    ),
    "neon": frozenset({"neon", "cyberpunk", "synthwave", "vaporwave", "glowing", "futuristic"}),
    "mountain": frozenset({"mountain", "mountains", "peak", "peaks", "alps", "hills", "cliff", "valley"}),
    "fog": frozenset({"fog", "foggy", "mist", "misty", "haze", "hazy", "smoke"}),
    "clouds": frozenset({"cloud", "clouds", "cloudy", "storm", "stormy", "overcast", "sky"}),
}

#: Subject kinds drawn as silhouettes in front of the scenery.
SUBJECTS: dict[str, frozenset[str]] = {
    "person": frozenset(
        {
            "person",
            "man",
            "woman",
            "girl",
            "boy",
            "people",
            "dancer",
            "child",
            "kid",
            "warrior",
            "knight",
            "astronaut",
            "couple",
            "lovers",
            "lady",
            "guy",
            "hero",
            "runner",
            "soldier",
            "princess",
            "king",
            "queen",
            "samurai",
            "ninja",
            "he",
            "she",
            "friends",
            "family",
        }
    ),
    "animal": frozenset(
        {"cat", "dog", "fox", "wolf", "horse", "deer", "tiger", "lion", "animal", "bear", "puppy", "kitten"}
    ),
    "car": frozenset({"car", "cars", "vehicle", "truck", "motorcycle", "bike", "racecar", "jeep"}),
    "boat": frozenset({"boat", "ship", "sailboat", "yacht", "canoe", "sail"}),
    "bird": frozenset({"bird", "birds", "eagle", "flock", "seagull", "seagulls", "crow", "dragon"}),
    "tower": frozenset({"castle", "tower", "lighthouse", "temple", "church", "palace"}),
}

#: Words that ask for two of the main subject (interaction templates rely on this too).
PAIR_WORDS = frozenset({"two", "couple", "pair", "lovers", "duo", "both", "together", "friends"})
#: Inline negations: the word right after one of these is treated as negated.
NEGATORS = frozenset({"no", "without", "not", "never", "nor", "except"})

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str | None) -> list[str]:
    return _WORD.findall(text.lower()) if text else []


@dataclass(frozen=True)
class SceneTraits:
    """What the prompt asks for, after negations. ``digest`` feeds the scene's RNG seed."""

    themes: frozenset[str]
    subjects: tuple[str, ...]
    pair: bool
    digest: int
    words: frozenset[str] = frozenset()  # the positive prompt's words, negated ones removed

    def has(self, theme: str) -> bool:
        return theme in self.themes


def prompt_digest(prompt: str, negative: str | None) -> int:
    """A stable 64-bit digest of the prompts (Python's ``hash`` is salted per process)."""
    blob = f"{prompt}\x00{negative or ''}".encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")


def _negated(tokens: list[str], negative: str | None) -> set[str]:
    banned = set(words(negative))
    banned.update(tokens[i + 1] for i, token in enumerate(tokens[:-1]) if token in NEGATORS)
    return banned


def _active(vocabulary: dict[str, frozenset[str]], present: set[str], banned: set[str]) -> list[str]:
    return [name for name, vocab in vocabulary.items() if vocab & present and not vocab & banned]


def read_prompt(prompt: str, negative: str | None = None) -> SceneTraits:
    """Parse ``prompt`` minus ``negative`` into :class:`SceneTraits`.

    A negated word only removes; it never switches a trait on (``"no water"`` must not
    produce water), so negated tokens are dropped from the positive set first.
    """
    tokens = words(prompt)
    banned = _negated(tokens, negative)
    present = set(tokens) - banned
    themes = set(_active(THEMES, present, banned))
    if "neon" in themes and not themes & {"sunset", "night"}:
        # Neon signs read best after dark: our rule for an unqualified "neon".
        themes.add("night")
    subjects = tuple(_active(SUBJECTS, present, banned))
    return SceneTraits(
        themes=frozenset(themes),
        subjects=subjects,
        pair=bool(PAIR_WORDS & present),
        digest=prompt_digest(prompt, negative),
        words=frozenset(present),
    )
