"""Nova's own option definitions and value parsing, as JSON; run by the python of the lab's
Nova virtualenv (tests/lab_tests/test_nova_options.py), never by vmwctl's.

    nova_options.py definitions < {"sections": [...], "DEFAULT": [...], "removed": [[s, n]]}
    nova_options.py parse < [[section, name, text], ...]
"""

from __future__ import annotations

import json
import sys

import nova.conf  # registers every option Nova has on its CONF

CONF = nova.conf.CONF
TYPES = {"String": "str", "Integer": "int", "Float": "float", "Boolean": "bool", "Port": "port",
         "URI": "uri", "HostAddress": "host", "List": "list"}


def _opt(section: str, name: str):
    opts = CONF._opts if section == "DEFAULT" else CONF._groups[section]._opts
    return opts[name]["opt"]


def _names(section: str) -> list[str]:
    return sorted(CONF._opts if section == "DEFAULT" else CONF._groups[section]._opts)


def describe(section: str, opt) -> dict:
    kind = opt.type
    choices = getattr(kind, "choices", None)
    if type(kind).__name__ == "List":
        choices = getattr(kind.item_type, "choices", None)
    default = opt.default
    return {
        "section": section, "name": opt.name,
        "type": TYPES.get(type(kind).__name__, type(kind).__name__),
        "default": list(default) if isinstance(default, list | tuple) else default,
        "sample_default": opt.sample_default,
        "min": getattr(kind, "min", None), "max": getattr(kind, "max", None),
        "choices": sorted(choices) if choices else [],
        "schemes": sorted(getattr(kind, "schemes", None) or []),
        "secret": bool(opt.secret),
        "deprecated": sorted([d.group or section, d.name or opt.name]
                             for d in opt.deprecated_opts),
    }


def definitions(request: dict) -> dict:
    options = [describe(section, _opt(section, name))
               for section in request["sections"] for name in _names(section)]
    options += [describe("DEFAULT", _opt("DEFAULT", name)) for name in request["DEFAULT"]
                if name in CONF._opts]
    every_name = {(s, o["opt"].name) for s in ["DEFAULT", *CONF._groups]
                  for o in (CONF._opts if s == "DEFAULT" else CONF._groups[s]._opts).values()}
    deprecated = {(d.group or s, d.name or o["opt"].name)
                  for s in ["DEFAULT", *CONF._groups]
                  for o in (CONF._opts if s == "DEFAULT" else CONF._groups[s]._opts).values()
                  for d in o["opt"].deprecated_opts}
    present = [pair for pair in request["removed"]
               if tuple(pair) in every_name or tuple(pair) in deprecated]
    return {"options": options, "removed_present": present}


def parse(cases: list) -> list:
    results = []
    for section, name, text in cases:
        try:
            results.append({"value": _opt(section, name).type(text)})
        except ValueError:
            results.append({"error": True})
    return results


if __name__ == "__main__":
    request = json.load(sys.stdin)
    answer = definitions(request) if sys.argv[1] == "definitions" else parse(request)
    json.dump(answer, sys.stdout)
