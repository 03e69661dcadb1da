"""The regular expressions of the contract: each one is both a parser check and a JSON Schema ``pattern``.

Every expression here is written in the part of the syntax Python's ``re`` and ECMA-262 (what
JSON Schema's ``pattern`` means, and what schemathesis generates from) read the same way: no
flags (case-insensitive parts spell ``[hH]``), no look-around, no ``\\s``/``\\d``/``\\w`` (their
Unicode sets differ between engines), ASCII classes and ``\\uXXXX`` escapes only. So one string
decides both what the parser accepts and what the OpenAPI schema allows.
"""

from __future__ import annotations

import re

_HEX = "[0-9A-Fa-f]"


def case_insensitive(text: str) -> str:
    """``data:`` as ``[dD][aA][tT][aA]:``: a literal matched in any case without a flag."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else re.escape(c) for c in text)


# ---------------------------------------------------------------------------- UUIDs

#: Any UUID in its canonical 8-4-4-4-12 form, either case (an uploaded image's UUID).
UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
#: A UUID v4 (version nibble 4, RFC 4122 variant), either case: a ``taskUUID``.
UUID4 = f"{_HEX}{{8}}-{_HEX}{{4}}-4{_HEX}{{3}}-[89abAB]{_HEX}{{3}}-{_HEX}{{12}}"

# ---------------------------------------------------------------------------- http(s) URLs
#
# An absolute http(s) URL as RFC 3986 writes it, narrowed to what the outbound client
# (httpx, ``delivery/outbound.py``) sends without refusing: printable ASCII only (no spaces,
# no control characters: non-ASCII is percent-encoded, an internationalised host is given in
# its ``xn--`` form), no user info, a port of 1..65535, and a host that is a DNS name whose
# last label starts with a letter, a dotted IPv4 address, or a bracketed IPv6 address.

_LABEL = "[A-Za-z0-9_-]{1,63}"
_LAST_LABEL = "[A-Za-z][A-Za-z0-9_-]{0,62}"
HOSTNAME = f"(?:{_LABEL}\\.)*{_LAST_LABEL}\\.?"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = f"{_OCTET}(?:\\.{_OCTET}){{3}}"


def _ipv6() -> str:
    """RFC 3986's ``IPv6address``, alternative by alternative: ``n`` groups after ``::``
    (ending in two groups or an IPv4 address), at most ``7 - n`` before it."""
    h16 = f"{_HEX}{{1,4}}"
    ls32 = f"(?:{h16}:{h16}|{IPV4})"
    forms = [f"(?:{h16}:){{6}}{ls32}"]
    for after in range(5, -1, -1):  # groups after "::", then ls32
        before = 4 - after  # at most before + 1 groups ahead of "::"
        head = "" if before < 0 else f"(?:(?:{h16}:){{0,{before}}}{h16})?"
        tail = f"(?:{h16}:){{{after}}}{ls32}" if after else ls32
        forms.append(f"{head}::{tail}")
    forms.append(f"(?:(?:{h16}:){{0,5}}{h16})?::{h16}")
    forms.append(f"(?:(?:{h16}:){{0,6}}{h16})?::")
    return "|".join(f"(?:{form})" for form in forms)


IPV6 = _ipv6()
PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HTTP_URL = f"{case_insensitive('http')}[sS]?://(?:{HOSTNAME}|{IPV4}|\\[(?:{IPV6})\\])(?::{PORT})?(?:[/?#][!-~]*)?"

# ---------------------------------------------------------------------------- inline images

#: Standard base64 with its padding, at least one quantum (what ``base64.b64decode(validate=True)`` takes).
BASE64 = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)"
#: ``data:image/<subtype>[;param=value]*;base64,``: the header of a data URI image.
DATA_URI_HEADER = f"{case_insensitive('data:image/')}[A-Za-z0-9.+-]+(?:;[^;,]+=[^;,]*)*;{case_insensitive('base64,')}"
DATA_URI = DATA_URI_HEADER + BASE64

# ---------------------------------------------------------------------------- text

#: What Python's ``str.isspace`` and ECMA-262's ``\s`` call white space, together.
SPACE_CHARS = (
    "\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
#: One character that is not white space (found anywhere in the value).
NON_SPACE = f"[^{SPACE_CHARS}]"
