"""Prompt filter: refuses explicit prompts before any frame is generated.

Used whenever a safety mode is on, on the *positive* prompt only (negative prompts
routinely list "nude, nsfw" precisely to avoid them). A match fails the task with
``nsfwContentDetected`` naming ``positivePrompt``.

Matching is on a normalised copy of the prompt (:func:`normalise`): Unicode compatibility
forms folded, accents and invisible characters dropped, lower case, and light leetspeak
undone inside tokens that contain a letter (``p0rn``, ``$3x``; plain numbers such as
``1080`` are left alone). Terms match whole words only, so ``Essex``, ``therapist``,
``cocktail`` or ``Scunthorpe`` never match. Letters spelled out one by one
(``n u d e``, ``p.o.r.n``) are joined and searched without word boundaries.

The built-in list aims at explicit sexual content, not at profanity: ambiguous words
(``cock``, ``pussy``, ``ass``, a person's ``sex``) are left out, and words with common
innocent senses carry exceptions (``nude lipstick``, ``naked eye``). Operators add terms
with the ``safety_prompt_terms`` setting (literal words or phrases, comma-separated).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from cinefuse.errors import ContentFlagged

PROMPT_PARAMETER = "positivePrompt"
FLAGGED_PROMPT_MESSAGE = "The prompt was flagged by the content safety filter."

#: Built-in terms: regular-expression fragments over the normalised text; a space stands
#: for any run of spaces, hyphens or underscores between words.
EXPLICIT_TERMS: tuple[str, ...] = (
    r"porn\w*",
    r"xxx+",
    r"nsfw",
    r"rule 34",
    r"hentai",
    r"nudes",
    r"nudity",
    r"nudist\w*",
    r"nude(?! (?:lipsticks?|lips?|colou?rs?|tones?|heels|shoes|pumps|palettes?|makeup|make up|nails?|polish|"
    r"shades?|beige|eyeshadows?|stockings|tights|bras?|dress(?:es)?))",
    r"naked(?:ness)?(?! (?:eyes?|mole rats?|flames?|truth|singularity|wires?|bulbs?|lights?|blades?))",
    r"topless",
    r"undress(?:ed|ing)",
    r"striptease",
    r"genital(?:s|ia)?",
    r"penis(?:es)?",
    r"vagina[ls]?",
    r"vulvas?",
    r"clit(?:oris)?",
    r"labia",
    r"testicles?",
    r"scrotum",
    r"anus",
    r"nipples?",
    r"areolae?",
    r"boob(?:s|ies)",
    r"tits",
    r"titties",
    r"(?:bare|exposed) breasts?",
    r"erotic(?:a|ism)?",
    r"fetish\w*",
    r"bdsm",
    r"bondage",
    r"orgy",
    r"orgies",
    r"orgasm\w*",
    r"masturbat\w*",
    r"ejaculat\w*",
    r"cumshots?",
    r"creampie",
    r"blowjobs?",
    r"handjobs?",
    r"deepthroat\w*",
    r"fellatio",
    r"cunnilingus",
    r"dildos?",
    r"gangbang\w*",
    r"threesome",
    r"milfs?",
    r"onlyfans",
    r"(?:having|have|has|had|oral|anal|group|explicit|hardcore|softcore) sex",
    r"sex (?:scenes?|acts?|tapes?|toys?|videos?|positions?|workers?)",
    r"sexual(?:ly)? (?:explicit|intercourse|acts?|content)",
    r"rape[ds]?",
    r"raping",
    r"rapists?",
    r"molest\w*",
    r"incest\w*",
    r"bestiality",
    r"zoophil\w*",
    r"p(?:a)?edophil\w*",
    r"lolicon",
    r"shotacon",
)

#: Leetspeak undone inside tokens that contain at least one letter.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_TOKEN = re.compile(r"[a-z0-9@$]+")
_HAS_LETTER = re.compile(r"[a-z]")
#: Three or more single letters separated by one space/punctuation mark each: "n u d e".
_SPACED_RUN = re.compile(r"(?<![a-z0-9])(?:[a-z][ ._*\-]){2,}[a-z](?![a-z0-9])")
_NOT_LETTER = re.compile(r"[^a-z]")
_WORD_GAP = r"[\s\-_]+"


def normalise(text: str) -> str:
    """The form prompts are matched in (see the module docstring)."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Cf"))
    folded = kept.casefold()
    return _TOKEN.sub(lambda m: m.group(0).translate(_LEET) if _HAS_LETTER.search(m.group(0)) else m.group(0), folded)


def _literal_term(term: str) -> str:
    """An operator term (plain words) as a fragment in the built-in terms' syntax."""
    return " ".join(re.escape(word) for word in normalise(term).split())


class PromptFilter:
    """Matches prompts against the built-in terms plus ``extra_terms`` (literal phrases)."""

    def __init__(self, extra_terms: Iterable[str] = ()) -> None:
        fragments = [*EXPLICIT_TERMS, *(_literal_term(t) for t in extra_terms if t.strip())]
        self.terms: tuple[str, ...] = tuple(fragments)
        alternatives = "|".join(f"(?:{f})" for f in fragments)
        # Whole words on the prompt; anywhere inside a spelled-out run.
        self._words = re.compile(rf"(?<!\w)(?:{alternatives.replace(' ', _WORD_GAP)})(?!\w)")
        self._joined = re.compile(f"(?:{alternatives.replace(' ', '')})")

    @classmethod
    def from_setting(cls, value: str) -> PromptFilter:
        """From the comma-separated ``safety_prompt_terms`` setting."""
        return cls(term for term in value.split(",") if term.strip())

    def find(self, prompt: str) -> str | None:
        """The first offending text (normalised), or None when the prompt is clean."""
        text = normalise(prompt)
        match = self._words.search(text)
        if match:
            return match.group(0)
        for run in _SPACED_RUN.finditer(text):
            joined = self._joined.search(_NOT_LETTER.sub("", run.group(0)))
            if joined:
                return joined.group(0)
        return None

    def check(self, prompt: str, parameter: str = PROMPT_PARAMETER) -> None:
        """Raise :class:`~cinefuse.errors.ContentFlagged` when ``prompt`` matches."""
        if self.find(prompt) is not None:
            raise ContentFlagged(FLAGGED_PROMPT_MESSAGE, parameter=parameter)
