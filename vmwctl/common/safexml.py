"""XML from outside (VIB descriptors, ESXi rule files, OVF descriptors), parsed defensively.

No DTD, no entity declaration, no external entity is ever processed, in any
encoding the parser accepts, and the document's size is bounded.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

MAX_XML = 1 << 20
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


class XmlRefused(ValueError):
    """XML that vmwctl will not parse (too large, a DTD or entities, malformed)."""


class XmlDeclares(XmlRefused):
    """XML that declares a DTD or entities: hostile, not merely broken."""


class _Declared(Exception):
    """Raised from expat's handlers: the document declares a DTD or an entity."""


def _refuse(*_args: object) -> None:
    raise _Declared


def parse_xml(data: bytes, what: str, *, limit: int = MAX_XML) -> ET.Element:
    """The root element of ``data``, refusing what could make a parser misbehave.

    A first pass with expat's own handlers catches a DTD or an entity
    declaration in any encoding (UTF-16 hides it from a byte search); the
    tree is built only after it.
    """
    if len(data) > limit:
        raise XmlRefused(f"{what} is larger than {limit} bytes")
    declared = XmlDeclares(f"{what} declares a DTD or entities, which vmwctl never reads")
    if _DECLARATION.search(data):
        raise declared
    scan = expat.ParserCreate()
    scan.StartDoctypeDeclHandler = _refuse
    scan.EntityDeclHandler = _refuse
    scan.UnparsedEntityDeclHandler = _refuse
    scan.ExternalEntityRefHandler = _refuse
    try:
        scan.Parse(data, True)
    except _Declared:
        raise declared from None
    except expat.ExpatError as exc:
        raise XmlRefused(f"{what} is not well-formed XML: {exc}") from None
    except LookupError as exc:  # the declaration names an encoding Python does not know
        raise XmlRefused(f"{what} is not readable XML: {exc}") from None
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise XmlRefused(f"{what} is not well-formed XML: {exc}") from None
