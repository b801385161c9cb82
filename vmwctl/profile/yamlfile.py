"""Reading and writing YAML safely: limits on size, aliases and nesting, and errors that
say where (file:line:column) without quoting a secret."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from vmwctl.errors import ConfigError

MAX_YAML_ALIASES = 100
MAX_YAML_DEPTH = 50
_SURROGATE = re.compile("[\ud800-\udfff]")
# A YAML error on a line like this one does not quote the value: it may be a password.
_SECRET_LINE = re.compile(r"pass|secret|token", re.IGNORECASE)


def _bounded_loader() -> type:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader that refuses documents with many aliases (alias bombs), deep nesting
        (the composer recurses), and turns bad tagged values into YAML errors."""

        aliases = 0
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_YAML_ALIASES:
                    raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} YAML aliases")
            if self.depth >= MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_YAML_DEPTH} levels of nesting",
                    self.peek_event().start_mark)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            # SafeConstructor raises ValueError, KeyError... on e.g. '2020-02-30',
            # '!!float abc', '!!bool maybe' or '!!timestamp x'
            try:
                data = super().construct_object(node, deep)
            except (ValueError, TypeError, AttributeError, LookupError, OverflowError):
                value = node.value[:40] if isinstance(node.value, str) else "the value"
                raise yaml.constructor.ConstructorError(
                    None, None, f"{value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                    node.start_mark) from None
            if isinstance(data, str) and _SURROGATE.search(data):  # "\ud800" escapes
                raise yaml.constructor.ConstructorError(
                    None, None, f"{data[:40]!r} is not valid Unicode (a lone surrogate)",
                    node.start_mark)
            return data

    return BoundedLoader


def _key_lines(node: Any, prefix: str, out: dict[str, int], file: Path,
               inside: frozenset[int] = frozenset()) -> None:
    import yaml

    if id(node) in inside:  # an alias of an enclosing anchor: the data would contain itself
        raise ConfigError(f"{file}:{node.start_mark.line + 1}: YAML alias inside its own anchor "
                          f"at {prefix or 'the top level'}: the value would contain itself")
    inside = inside | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _key_lines(key_node, prefix, {}, file, inside)
            if isinstance(key_node, yaml.ScalarNode):
                path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
                out[path] = key_node.start_mark.line + 1
                _key_lines(value_node, path, out, file, inside)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _key_lines(item, prefix, {}, file, inside)


def parse_yaml(text: str, path: Path) -> tuple[Any, dict[str, int]]:
    """Parse YAML safely; return the data and the line of every mapping key."""
    import yaml

    loader = None
    try:
        loader = _bounded_loader()(text)  # the reader refuses control characters here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        lines = text.splitlines()
        line = lines[mark.line] if mark and mark.line < len(lines) else ""
        if "'" in problem and _SECRET_LINE.search(line):
            problem = "the value cannot be read (not shown: it may be a secret)"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{path}:{line}: YAML error: {exc.reason} (character "
                          f"#x{exc.character:04x})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {' '.join(str(exc).split())}") from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[str, int] = {}
    if node is not None:
        _key_lines(node, "", lines, path)
    return data, lines


def dump_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
