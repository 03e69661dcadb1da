"""The field rules mean the same to the parser and to the OpenAPI schema (``schemas/rules.py``).

A rule is checked in Python (``problem``) and stated as JSON Schema (``schema``); here the two
are compared on generated values with ``jsonschema_rs`` (ECMA-262 patterns, what schemathesis
generates with), so a regular expression that Python and ECMA-262 read differently, or a fast
predicate that drifted from its expression, fails. The URL expression is also held against
what the outbound client sends without refusing (``delivery.outbound``), and the IPv6 one
against ``ipaddress``.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cinefuse.delivery.outbound import _parse
from cinefuse.models.registry import MODELS
from cinefuse.schemas import patterns
from cinefuse.schemas.rules import AnyText, Pattern, Text
from cinefuse.schemas.task_rules import HTTP_URL, IMAGE, TASK_UUID, video_rules

PROMPT = video_rules(MODELS["pixverse:1@3"]).positive_prompt
RULES: dict[str, Text | AnyText] = {"taskUUID": TASK_UUID, "URL": HTTP_URL, "image": IMAGE, "prompt": PROMPT}
CHECKS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: One validator per rule (compiling the URL expression is what costs).
VALIDATORS = {name: jsonschema_rs.Draft202012Validator(rule.schema()) for name, rule in RULES.items()}


def from_rule(rule: Text | AnyText) -> st.SearchStrategy[str]:
    """Values a rule accepts (from its own expressions), near misses and random text."""
    forms = rule.forms if isinstance(rule, AnyText) else (rule,)
    matching = [
        st.from_regex(re.compile(form.pattern.source), fullmatch=form.pattern.whole)
        for form in forms
        if form.pattern is not None
    ]
    valid = st.one_of(*matching)
    near = st.builds(lambda v, i, c: v[:i] + c + v[i + 1 :], valid, st.integers(0, 60), st.characters())
    return valid | near | st.text(max_size=40) | valid.map(lambda v: v + "\n")


VALUES = {name: from_rule(rule) for name, rule in RULES.items()}


@pytest.mark.parametrize("name", RULES)
@CHECKS
@given(data=st.data())
def test_the_parser_and_the_schema_accept_the_same_values(name: str, data: st.DataObject) -> None:
    rule, validator = RULES[name], VALIDATORS[name]
    value = data.draw(VALUES[name])
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        return  # a lone surrogate is no text JSON could carry to the server
    beyond = [form.beyond for form in (rule.forms if isinstance(rule, AnyText) else (rule,))]
    assert (rule.problem(value) is None) == validator.is_valid(value) or (any(beyond) and validator.is_valid(value)), (
        value
    )


@pytest.mark.parametrize(
    ("pattern", "texts"),
    [
        (patterns.BASE64, st.from_regex(r"[A-Za-z0-9+/=]{0,13}", fullmatch=True) | st.text("AB=+/", max_size=9)),
        (
            patterns.DATA_URI,
            st.from_regex(patterns.DATA_URI_HEADER + r"[A-Za-z0-9+/=]{0,9}", fullmatch=True)
            | st.text("AB=+/d:a;,", max_size=12),
        ),
    ],
    ids=["base64", "data-uri"],
)
@CHECKS
@given(data=st.data())
def test_each_fast_predicate_is_its_expression(
    pattern: str, texts: st.SearchStrategy[str], data: st.DataObject
) -> None:
    [fast] = [f.pattern for f in IMAGE.forms if f.pattern is not None and f.pattern.source == pattern]
    assert fast.fast is not None
    value = data.draw(texts)
    assert fast.fast(value) == fast.regex_matches(value), value


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return "%" not in text  # a zone, which URLs cannot carry as such


@CHECKS
@given(
    text=st.text(alphabet="0123456789abcdefABCDEF:.", max_size=45)
    | st.ip_addresses(v=6).map(str)
    | st.ip_addresses(v=6).map(lambda a: a.exploded)
    | st.from_regex(f"(?:{patterns.IPV6})", fullmatch=True)
)
def test_the_ipv6_expression_is_rfc_3986s(text: str) -> None:
    assert (re.fullmatch(f"(?:{patterns.IPV6})", text) is not None) == _is_ipv6(text), text


@CHECKS
@given(url=st.from_regex(re.compile(patterns.HTTP_URL), fullmatch=True).filter(lambda u: len(u) <= 2048))
def test_every_url_the_rule_takes_the_outbound_client_sends(url: str) -> None:
    """What the parser acknowledges is not refused at delivery for its form (issue 20)."""
    if HTTP_URL.problem(url) is not None:
        return  # an xn-- label that is not punycode: refused by the check beyond the schema
    parsed = _parse(url)
    assert parsed.host and parsed.scheme in ("http", "https")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a\x01",
        "https://example.com/a b",
        "https://xn--zz.example/",
        "https://a.xn--zz.example/",
        "https://bücher.example/",
        "https://u:p@example.com/",
        "https://example.com:0/",
        "https://example.com:65536/",
        "https://[::1/",
        "https://1.2.3.256/",
        "http://",
    ],
)
def test_urls_refused_at_delivery_or_not_written_as_rfc_3986_says_are_refused(url: str) -> None:
    """Control characters, user info, a port out of range, a bad address or A-label fail at delivery
    (``outbound._parse``; an invalid A-label even raises outside ``OutboundRefused`` there);
    spaces and a Unicode host are not how RFC 3986 writes a URL (percent-encoding, ``xn--``)."""
    assert HTTP_URL.problem(url) is not None


def test_non_space_is_every_character_but_white_space() -> None:
    """``str.isspace`` and ECMA-262's ``\\s`` together, character by character, in both engines."""
    schema = jsonschema_rs.Draft202012Validator({"type": "string", "pattern": patterns.NON_SPACE})
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        space = char.isspace() or char == "\ufeff"
        assert (re.search(patterns.NON_SPACE, char) is None) == space, hex(code)
        if code < 0x3100:  # the whole range of white space; the rest costs time and says nothing new
            assert schema.is_valid(char) != space, hex(code)


def test_a_rule_states_what_it_checks() -> None:
    text = Text(2, 5, Pattern("[a-z]+", "be lower-case letters"), title="word")
    assert text.schema() == {
        "type": "string",
        "title": "word",
        "minLength": 2,
        "maxLength": 5,
        "pattern": "^(?:[a-z]+)$",
    }
    assert text.problem("abc") is None
    assert text.problem("a") == "must be 2..5 characters, got 1"
    assert text.problem("ABC") == "must be lower-case letters"
    somewhere = Pattern("[a-z]", "contain a letter", whole=False)
    assert somewhere.json == "[a-z]" and somewhere.matches("1a2") and not somewhere.matches("12")


def test_every_image_form_has_a_title_for_the_documents() -> None:
    schema: dict[str, Any] = IMAGE.schema()
    assert [form["title"] for form in schema["anyOf"]] == ["image UUID", "http(s) URL", "data URI", "base64"]
