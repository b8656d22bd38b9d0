"""Check interface catalogues: every message translated, none fuzzy, the same placeholders and markup as the English.

    python scripts/check_catalogue.py [folder ...]     (folders of academy/translations; default: all)

Prints one line per problem (file:line) and exits 1 if there is any. tests/core/test_catalogues.py runs the same check.
"""

import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent / "academy" / "translations"
# %(name)s, %s, %d, {name}, {0}: what gettext, Jinja and str.format fill in; HTML tags and entities.
PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdfr]|%[sdfr]|\{[A-Za-z_0-9]*\}|</?[a-z][a-z0-9]*\b|&[a-z]+;")


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def problems(path: Path) -> list[str]:
    with path.open("rb") as handle:
        catalogue = read_po(handle, abort_invalid=True)
    found = []
    plurals = catalogue.num_plurals
    for message in catalogue:
        if not message.id:
            continue
        where = f"{path}:{message.lineno}"
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        if message.fuzzy:
            found.append(f"{where}: fuzzy")
        if isinstance(message.id, (list, tuple)) and len(strings) != plurals:
            found.append(f"{where}: {len(strings)} plural forms, the language has {plurals}")
        if not all(strings):
            found.append(f"{where}: not translated: {ids[0][:60]!r}")
            continue
        expected = placeholders(ids[-1])
        for string in strings:
            got = placeholders(string)
            # a singular form may leave out %(num)s ("one module"), never add or change a placeholder
            if got != expected and not (len(ids) > 1 and set(got) <= set(expected)):
                found.append(f"{where}: placeholders {got} differ from the English {expected}: {ids[0][:60]!r}")
    return found


def main(folders: list[str]) -> int:
    paths = sorted(ROOT.glob("*/LC_MESSAGES/messages.po"))
    if folders:
        paths = [path for path in paths if path.parent.parent.name in folders]
    found = [problem for path in paths for problem in problems(path)]
    for problem in found:
        print(problem)
    print(f"{len(paths)} catalogue(s), {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
