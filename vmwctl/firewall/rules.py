"""ESXi firewall rule files (``/etc/vmware/firewall/<id>.xml``): written and read safely."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from xml.sax.saxutils import escape

from vmwctl.common.safexml import XmlRefused, parse_xml
from vmwctl.errors import UsageError
from vmwctl.firewall.ports import Range
from vmwctl.vsphere.model import FirewallRule, FirewallRuleset

RULESET_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


def check_ruleset_id(ruleset_id: str) -> str:
    if not RULESET_ID.match(ruleset_id):
        raise UsageError(f"--ruleset-id {ruleset_id!r}: use a letter, then letters, digits, '_' "
                         "or '-' (at most 63), e.g. vnc")
    return ruleset_id


def firewall_xml(ruleset_id: str, ranges: Sequence[Range], *, enabled: bool = True,
                 required: bool = False) -> bytes:
    """A rule file opening ``ranges`` to inbound TCP, in the format of ESXi 5.x and later."""
    rules = []
    for number, (begin, end) in enumerate(ranges):
        port = (f"      <port>{begin}</port>\n" if begin == end else
                f"      <port>\n        <begin>{begin}</begin>\n        <end>{end}</end>\n"
                "      </port>\n")
        rules.append(f"    <rule id='{number:04d}'>\n"
                     "      <direction>inbound</direction>\n"
                     "      <protocol>tcp</protocol>\n"
                     "      <porttype>dst</porttype>\n"
                     f"{port}"
                     "    </rule>\n")
    text = (f"<!-- Firewall configuration information for {escape(ruleset_id)} -->\n"
            "<ConfigRoot>\n"
            "  <service id='0000'>\n"
            f"    <id>{escape(ruleset_id)}</id>\n"
            f"{''.join(rules)}"
            f"    <enabled>{'true' if enabled else 'false'}</enabled>\n"
            f"    <required>{'true' if required else 'false'}</required>\n"
            "  </service>\n"
            "</ConfigRoot>\n")
    return text.encode("ascii")


def _text(element: ET.Element, tag: str) -> str | None:
    found = element.find(tag)
    return found.text.strip() if found is not None and found.text else None


def parse_firewall_xml(data: bytes, what: str = "the rule file") -> list[FirewallRuleset]:
    """The rulesets of a rule file, as ESXi reads them (single ports and begin/end ranges)."""
    root = parse_xml(data, what)
    if root.tag != "ConfigRoot":
        raise XmlRefused(f"{what}: the root element is <{root.tag}>, not <ConfigRoot>")
    rulesets = []
    for service in root.findall("service"):
        key = _text(service, "id")
        if not key:
            raise XmlRefused(f"{what}: a <service> without an <id>")
        rules = []
        for rule in service.findall("rule"):
            port = rule.find("port")
            try:
                if port is None:
                    raise ValueError("no <port>")
                if port.find("begin") is not None:
                    begin, end = int(_text(port, "begin") or ""), int(_text(port, "end") or "")
                else:
                    begin = end = int((port.text or "").strip())
            except ValueError as exc:
                raise XmlRefused(f"{what}: ruleset {key!r} has a rule with a bad port "
                                 f"({exc})") from None
            rules.append(FirewallRule(port=begin, end_port=end if end != begin else None,
                                      direction=_text(rule, "direction") or "inbound",
                                      protocol=_text(rule, "protocol") or "tcp",
                                      port_type=_text(rule, "porttype")))
        rulesets.append(FirewallRuleset(key=key, enabled=_text(service, "enabled") == "true",
                                        rules=rules))
    return rulesets
