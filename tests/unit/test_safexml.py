"""The one safe XML parser (VIB descriptors, ESXi rule files, OVF descriptors)."""

from __future__ import annotations

import pytest

from vmwctl.common.safexml import XmlRefused, parse_xml

BOMB = ('<!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;">]>'
        '<a>&y;</a>')


@pytest.mark.parametrize("data, reason", [
    (BOMB.encode(), "DTD or entities"),
    # UTF-16 hides the declaration from a byte search; expat's handlers still see it
    (('<?xml version="1.0" encoding="utf-16"?>' + BOMB).encode("utf-16"), "DTD or entities"),
    (('<?xml version="1.0" encoding="utf-16"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>')
     .encode("utf-16"), "DTD or entities"),
    (b"<a>&x;</a>", "not well-formed"),
    (b"<a>", "not well-formed"),
    # found by tests/reliability/test_fuzz_ova.py: one byte of "UTF-8" changed
    (b'<?xml version="1.0" encoding="ATF-8"?><a/>', "unknown encoding: ATF-8"),
    (b"<a/>" + b" " * (1 << 20), "larger than"),
])
def test_refused(data: bytes, reason: str) -> None:
    with pytest.raises(XmlRefused, match=reason):
        parse_xml(data, "the file")


def test_a_larger_limit_for_a_caller_that_needs_one() -> None:
    data = b"<a>" + b"x" * (2 << 20) + b"</a>"
    with pytest.raises(XmlRefused, match="larger than"):
        parse_xml(data, "the file")
    assert parse_xml(data, "the file", limit=4 << 20).text == "x" * (2 << 20)


def test_utf16_and_a_bom_are_read() -> None:
    assert parse_xml('<?xml version="1.0" encoding="utf-16"?><a>é</a>'.encode("utf-16"),
                     "t").text == "é"
    assert parse_xml(b"\xef\xbb\xbf<a/>", "t").tag == "a"
