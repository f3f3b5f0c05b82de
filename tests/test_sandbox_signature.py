"""The sandbox's TOP verifier on the reference's vectors: an empty value may be signed (the
Python SDKs, T5b) or skipped (the Java SDK, T5a); every other mismatch is refused."""

from __future__ import annotations

import hashlib

import pytest
from reference_data import sample_json

from ali1688spider.sandbox.signature import top_valid

SECRET = "helloworld"


def _vector(name: str) -> dict:
    return next(v for v in sample_json("signature-vectors.json")["top"] if v["name"].startswith(name))


def _pairs(params: dict[str, str], sign: str) -> list[tuple[str, str]]:
    return [*params.items(), ("sign", sign)]


def _md5(text: str) -> str:
    return hashlib.md5((SECRET + text + SECRET).encode()).hexdigest().upper()


@pytest.mark.parametrize("name", ["T1", "T4", "T5a", "T5b", "T6"])
def test_reference_vectors_are_accepted(name):
    vector = _vector(name)
    assert top_valid(_pairs(vector["params"], vector["signature"]), SECRET, "md5")


def test_both_empty_value_rules_sign_the_same_received_parameters():
    skipped, signed = _vector("T5a"), _vector("T5b")
    assert skipped["params"] == signed["params"]
    assert skipped["signature"] != signed["signature"]


def test_every_other_mismatch_is_refused():
    params = dict(_vector("T5b")["params"], scene="")     # two empty values
    text = "".join(k + v for k, v in sorted(params.items()))
    both, neither = _md5(text), _md5("".join(k + v for k, v in sorted(params.items()) if v))
    assert top_valid(_pairs(params, both), SECRET, "md5")
    assert top_valid(_pairs(params, neither), SECRET, "md5")
    refused = {
        # One empty value signed, the other skipped: no SDK signs so.
        "mixed": _md5(text.replace("scene", "")),
        "empty signed as a value": _md5(text.replace("session", "session0")),
        "a value changed": _md5(text.replace("qabc", "qabd")),
        "lower case": both.lower(),
        "other secret": hashlib.md5(("x" + text + "x").encode()).hexdigest().upper(),
    }
    for why, sign in refused.items():
        assert not top_valid(_pairs(params, sign), SECRET, "md5"), why
    assert not top_valid([*params.items(), ("sign", both), ("sign", both)], SECRET, "md5")
    assert not top_valid(list(params.items()), SECRET, "md5")
