"""Content files read with their line numbers, and every error reported as `path:line: message`."""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError

# Marshmallow's wording for the common cases, said the way a content author thinks of them.
UNKNOWN = "Unknown field."
MISSING = "Missing data for required field."
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8)
KINDS = {"int": "whole number", "float": "number", "bool": "boolean", "timestamp": "date"}  # YAML's tags
RENAMED = {"Field may not be null.": "has no value", "Invalid input type.": "expected a mapping of keys to values"}


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Problems:
    """Collects every problem found, so that one run reports them all."""

    items: list[Problem] = field(default_factory=list)

    def add(self, path: str, line: int, message: str) -> None:
        self.items.append(Problem(path, max(line, 1), _one_line(message)))

    def sorted(self) -> list[Problem]:
        return sorted(set(self.items))


def _one_line(message: str) -> str:
    """A key or value quoted in a message may hold a line break or another control character: show it escaped."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in message)


@dataclass
class LineMap:
    """Where each key and each value of a YAML document starts, by path of keys and indices."""

    keys: dict[tuple, int] = field(default_factory=dict)
    values: dict[tuple, int] = field(default_factory=dict)

    def line(self, path: tuple) -> int:
        """The key's line when there is one, else the value's, else the nearest parent's."""
        while path:
            found = self.keys.get(path) or self.values.get(path)
            if found:
                return found
            path = path[:-1]
        return self.values.get((), 1)


@dataclass
class YamlDocument:
    data: object
    lines: LineMap


def strings_at(data: object, path: tuple) -> list[tuple[int, str]]:
    """The string items of the list at `path` in raw YAML data, with their own indices."""
    # Marshmallow drops the bad items of a list of strings, which would shift the indices (and lines) of the rest.
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return []
    return [(i, item) for i, item in enumerate(data) if isinstance(item, str)] if isinstance(data, list) else []


def read_text(path: Path, display: str, problems: Problems) -> str | None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        problems.add(display, 1, "the file is not valid UTF-8")
    except OSError as error:
        problems.add(display, 1, f"cannot read the file: {error.strerror}")
    else:
        if "\x00" not in text:
            return text
        # No database column takes it (PostgreSQL refuses NUL in text), and no text editor writes it.
        problems.add(
            display,
            text.count("\n", 0, text.index("\x00")) + 1,
            "the file contains a NUL character: is it a text file?",
        )
    return None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with a bad value reported as a YAML error on its line."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            # `2001-02-30`, `!!int x`, `!!bool maybe`, a 5,000-digit number: PyYAML raises plain Python errors.
            kind = node.tag.rsplit(":", 1)[-1]
            value = node.value if len(str(node.value)) <= 40 else f"{str(node.value)[:40]}…"
            raise yaml.constructor.ConstructorError(
                None, None, f"'{value}' is not a valid {KINDS.get(kind, kind)}", node.start_mark
            ) from error


def parse_yaml(
    text: str, display: str, problems: Problems, first_line: int = 1, what: str = "the file"
) -> YamlDocument | None:
    """Compose then construct, keeping node positions; `first_line` is the text's line in the file."""
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + first_line if mark else first_line
        problems.add(display, line, f"YAML syntax error: {error.problem or error.context}")
        return None
    except yaml.reader.ReaderError as error:
        problems.add(
            display,
            text.count("\n", 0, error.position) + first_line,
            f"YAML syntax error: the character U+{error.character:04X} is not allowed",
        )
        return None
    except RecursionError:
        problems.add(display, first_line, "YAML syntax error: the lists or mappings are nested too deeply")
        return None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        problems.add(display, first_line, f"{what} is empty")
        return None
    if _unstorable_values(node, first_line, display, problems):
        return None
    lines = LineMap()
    _map_lines(node, (), lines, first_line, display, problems)
    return YamlDocument(data, lines)


def _unstorable_values(root, offset: int, display: str, problems: Problems) -> bool:
    """Report the values that an escape (`"\\0"`, `"\\ud800"`) gave a NUL or a lone surrogate: nothing stores them."""
    found, stack = False, [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack += [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
        else:
            bad = UNSTORABLE.search(node.value) if isinstance(node.value, str) else None
            if bad:
                problems.add(
                    display, node.start_mark.line + offset, f"the character U+{ord(bad.group()):04X} cannot be stored"
                )
                found = True
    return found


def _map_lines(node, path: tuple, lines: LineMap, offset: int, display: str, problems: Problems) -> None:
    lines.values[path] = node.start_mark.line + offset
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in seen:
                problems.add(display, key_node.start_mark.line + offset, f"duplicate key '{key}'")
            seen.add(key)
            lines.keys[path + (key,)] = key_node.start_mark.line + offset
            _map_lines(value_node, path + (key,), lines, offset, display, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, path + (index,), lines, offset, display, problems)


def load_with(
    schema: Schema, data: object, doc: YamlDocument, display: str, problems: Problems, prefix: tuple = ()
) -> tuple[Any, bool]:
    """Validate `data` (found at `prefix` in `doc`); returns what is usable and whether all was valid.

    What is usable is what the schema loads (a dataclass for a dataclass schema) when all was valid, else a dict of
    the parts that were."""
    try:
        # Raw YAML may be any shape: marshmallow's stubs ask for a mapping, but it answers anything else with a
        # ValidationError, which is reported below like any other problem.
        return schema.load(data), True  # type: ignore[arg-type]
    except ValidationError as error:
        for path, message in _flatten(error.messages, prefix):
            _report(path, message, doc.lines, display, problems)
        valid = error.valid_data
        return (valid if isinstance(valid, dict) else {}), False


def _flatten(messages, path: tuple):
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, path if key == "_schema" else path + (key,))
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path) if isinstance(message, (dict, list)) else [(path, message)]
    else:
        yield path, messages


def _report(path: tuple, message: str, lines: LineMap, display: str, problems: Problems) -> None:
    name = path[-1] if path else ""
    if message == UNKNOWN:
        problems.add(display, lines.line(path), f"unknown key '{name}'")
    elif message == MISSING:
        problems.add(display, lines.line(path[:-1]), f"missing required key '{name}'")
    else:
        text = RENAMED.get(message, message)
        text = text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
        label = _label(path)
        problems.add(display, lines.line(path), f"{label}: {text.rstrip('.')}" if label else text.rstrip("."))


def _label(path: tuple) -> str:
    """`options[2]` for an index under a key, `pass_mark` for a key."""
    label = ""
    for part in path:
        label = f"{label}[{part}]" if isinstance(part, int) else str(part)
    return label


class ContentInvalid(Exception):
    """A content folder (courses or scenarios) has errors; nothing was written."""

    def __init__(self, errors: list[Problem]):
        super().__init__(f"{len(errors)} content error(s)")
        self.errors = errors
