"""Ways to break content files, for the property tests of `content check`: courses/ and exercises/ alike."""
import copy
import re
from pathlib import Path

import yaml
from hypothesis import strategies as st

ERROR_LINE = re.compile(r"(?P<path>[^:\s][^:]*):(?P<line>[1-9]\d*): (?P<message>\S.*)")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8)

# Edits that may or may not break a file: the checker must still answer with clear errors or a correct load.
SNIPPETS = (": ", "- ", "[", "]", "{", "}", "'", '"', "\t", "&anchor ", "*alias", "!!python/object:os.system ",
            "<<: *x\n", "? ", "%YAML 1.1\n", "---\n", "...\n", "#", "|\n", ">-\n", "\n  ", "\n", "\x00", "\ufeff",
            "§", "\u2028", "\r", "\x85")
# Plain values PyYAML reads as something else or cannot read: dates, tags, escapes, depth, size.
SCALARS = ("2001-02-30", "2001-13-01", "2001-01-01", "!!int x", "!!float x", "!!bool maybe", "!!timestamp x",
           "!!binary @@", "!!str", "!!null x", '"\\0"', '"\\ud800"', '"a\\x00b"', "1" * 5000, "0x_", "1e999",
           "[" * 5000, "{a: " * 3000, "&a x", "*a", "!!python/object/apply:os.system [ls]", "<<: *a", "? [1]",
           "!!set {a}", "~", "yes", "0o17", "'\\ud800'", "|\n\x07")
KINDS = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "null"}
REPLACEMENTS = {
    "bool": st.booleans(),
    "int": st.integers(min_value=-(2**70), max_value=2**70),
    "float": st.floats(allow_nan=False),
    # "all" and "participant" are what a scenario's audience may be instead of a list.
    "str": st.text(max_size=12).filter(lambda text: text not in ("all", "participant")),
    "list": st.lists(st.integers(), max_size=2),
    "dict": st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    "null": st.none(),
}


def dump(data: object) -> str:
    try:  # libyaml's emitter when there is one: the pure-Python one is slow
        return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True,
                         sort_keys=False)
    except UnicodeEncodeError:  # a lone surrogate, which only the pure-Python emitter writes (as an escape)
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def walk(data: object, path: tuple = ()):
    """Every (path, value) in nested data, the root first."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from walk(value, path + (index,))


DELETE = object()


def replaced(data: object, path: tuple, value: object) -> object:
    """A deep copy of `data` with the value at `path` replaced (or, for value DELETE, removed)."""
    if not path:
        return value
    data = copy.deepcopy(data)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def key_of(path: tuple) -> object:
    """The mapping key a value is under (skipping list indices), None at the root."""
    return next((part for part in reversed(path) if isinstance(part, str)), None)


@st.composite
def broken_data(draw, data: object, optional: frozenset, known: frozenset, nullable: frozenset = frozenset()):
    """One change to `data` that its schema must refuse: (path, new value or DELETE), for `replaced`.

    `optional`: keys that may be left out; `known`: every key of the schema, never used as an unknown one;
    `nullable`: keys whose value may be null.
    """
    values = list(walk(data))
    required = [path for path, _ in values
                if path and isinstance(path[-1], str) and path[-1] not in optional and "scores" not in path]
    mappings = [path for path, value in values if isinstance(value, dict)]
    texts = [path for path, value in values if isinstance(value, str)]
    choices = ["retype"] + ["delete"] * bool(required) + ["unknown"] * bool(mappings) + ["blank"] * bool(texts)
    how = draw(st.sampled_from(choices))
    if how == "delete":
        return draw(st.sampled_from(required)), DELETE
    if how == "unknown":
        path = draw(st.sampled_from(mappings))
        parent = dict(walk(data))[path]
        key = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in known and k not in parent))
        return path + (key,), draw(st.sampled_from(["x", 1, None, [], {}]))
    if how == "blank":
        return draw(st.sampled_from(texts)), draw(st.sampled_from(["", " ", "\t"]))
    path, value = draw(st.sampled_from(values))
    kinds = sorted(set(REPLACEMENTS) - {KINDS[type(value)]} - ({"null"} if key_of(path) in nullable else set()))
    return path, draw(st.sampled_from(kinds).flatmap(REPLACEMENTS.get))


@st.composite
def garbled(draw, text: str) -> tuple[bytes, bool]:
    """The text of a file damaged at the byte level, and whether the damage always makes it unreadable."""
    how = draw(st.sampled_from(["snippet", "scalar", "scalar", "invalid-utf8", "text", "bytes", "cut"]))
    at = draw(st.integers(0, len(text)))
    if how == "snippet":
        return (text[:at] + draw(st.sampled_from(SNIPPETS)) + text[at:]).encode("utf-8"), False
    if how == "scalar" and ": " in text:
        # The value after one `key: ` becomes the scalar, up to the end of its line.
        starts = [match.end() for match in re.finditer(": ", text)]
        start = draw(st.sampled_from(starts))
        end = text.find("\n", start) % (len(text) + 1)
        return (text[:start] + draw(st.sampled_from(SCALARS)) + text[end:]).encode("utf-8"), False
    if how == "invalid-utf8":
        data = text.encode("utf-8")
        at = len(text[:at].encode("utf-8"))
        return data[:at] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xe2\x82"])) + data[at:], True
    if how == "text":
        return draw(st.text(max_size=200)).encode("utf-8"), False
    if how == "bytes":
        return draw(st.binary(max_size=200)), False
    return text[:at].encode("utf-8"), False


def assert_clear(errors: list, root: Path, top: str) -> None:
    """Each error is one `file:line: message` line naming a file of the tree and a line inside it."""
    for error in errors:
        text = str(error)
        match = ERROR_LINE.fullmatch(text)
        assert match and "\n" not in text and "\r" not in text, f"not a clear error line: {text!r}"
        assert error.path == top or error.path.startswith(top + "/"), text
        file = root / error.path
        lines = len(file.read_bytes().decode("utf-8", "replace").splitlines()) if file.is_file() else 0
        assert 1 <= error.line <= max(lines, 1) + 1, f"{text!r}: the file has {lines} lines"


@st.composite
def stretched(draw, data: object) -> tuple[tuple, object]:
    """One number of `data` made huge, or one string made long or given a character nothing stores: (path, value).

    Some schemas accept such a value; then the database must be able to hold it.
    """
    values = [(path, value) for path, value in walk(data) if type(value) in (int, str)]
    path, value = draw(st.sampled_from(values))
    if isinstance(value, int):
        new = draw(st.sampled_from([2**31, -(2**31) - 1, 10**30]))
    elif draw(st.booleans()):
        new = value + "x" * draw(st.sampled_from([81, 201, 256, 100_000]))  # past each column's length
    else:
        at = draw(st.integers(0, len(value)))
        new = value[:at] + draw(st.sampled_from(["\x00", "\ud800"])) + value[at:]  # a YAML escape gives either
    return path, new
