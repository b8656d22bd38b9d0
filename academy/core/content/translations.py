"""Translations of content files, kept next to their English source as gettext PO files, one per language.

A source (a course folder, a scenario file) is cut into **segments**: one piece of text a translator translates,
named by a context (`lesson/<slug>/title`, `question/<module>/<slug>/option/<id>` …) and holding the English text. A
lesson's body is cut at its blank lines, one segment a block (a paragraph, a list, a table, a heading). In the PO
file each segment is an entry: msgctxt the context, msgid the English it translates, msgstr the translation. The
msgid is how a translation records which version of the source it translates: when the English changes, the entry
no longer matches and is **stale** until the translator updates it (PO tools show the old and the new English side
by side). A `#, fuzzy` entry is not current either.

Segments belong to **units**, what a reader sees whole (a lesson, a question, a role's brief, an inject): a unit
appears translated only when every one of its segments has a current translation; otherwise the reader gets the
English original. The header says whether the file is a draft or reviewed (and by whom, when).

The checks every translation passes (`check_entries`): the file's language is one of the academy's and is not made
by transliteration; every context names a segment of the source; a translation keeps the English's section citations
(§4.5), lesson links, Markdown markers and Kosovo's asterisk; a question translated in part (an option left out) is an
error. Problems are reported as `file:line: message`, like every content error.
"""

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po, write_po

from academy.core import locales
from academy.core.content.files import Problems
from academy.core.transliteration import to_latin

STATUSES = ("draft", "reviewed")
STATUS_HEADER, REVIEWER_HEADER, REVIEWED_ON_HEADER = "X-Translation-Status", "X-Reviewed-By", "X-Reviewed-On"
LANGUAGE_HEADER = "X-Academy-Language"  # the BCP 47 tag (the standard Language header holds Babel's name)
SOURCE_HEADER = "X-Academy-Source"  # which source an exported file belongs to, for `content translations import`
SEPARATOR = "\u241f"  # between a context and its English in a flat map of translations

_CITATION = re.compile(r"§\s?\d+(?:\.\d+)*")
_LESSON_LINK = re.compile(r"\(lesson:[a-z0-9-]+\)")
_KOSOVO_STAR = re.compile(r"\\?\*(?=\s|$|[,.;:)])")
_BLOCK_MARK = re.compile(r"^(#{1,6} |\s*[-*+] |\s*\d+\. |\|)")


@dataclass(frozen=True)
class Segment:
    context: str
    source: str  # the English
    unit: str  # what a reader sees whole: a lesson, a question, an inject …


@dataclass
class Entry:
    context: str
    source: str
    text: str
    line: int
    fuzzy: bool = False


@dataclass
class TranslationFile:
    path: Path
    display: str
    tag: str
    status: str = "draft"
    reviewed_by: str | None = None
    reviewed_on: date | None = None
    entries: list[Entry] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass
class Checked:
    """A translation file measured against its source."""

    file: TranslationFile
    current: dict[tuple[str, str], str] = field(default_factory=dict)  # (context, English) -> translation
    stale: list[Entry] = field(default_factory=list)
    units_done: set[str] = field(default_factory=set)
    segments: int = 0

    @property
    def translated(self) -> int:
        return len(self.current)

    @property
    def missing(self) -> int:
        return self.segments - len(self.current)

    def flat(self) -> dict[str, str]:
        return {context + SEPARATOR + source: text for (context, source), text in self.current.items()}


def blocks(markdown: str) -> list[str]:
    """A Markdown body cut at its blank lines: the segments of a lesson or an inject's body."""
    return [block.strip("\n") for block in re.split(r"\n[ \t]*\n", markdown.strip()) if block.strip()]


def read_file(path: Path, display: str, problems: Problems, tag: str | None = None) -> TranslationFile | None:
    """A translation file with its entries and their lines; None (and problems) when it cannot be used. Its language
    is its name's (`sq.po`), or `tag` for a file that came back from a translator under another name."""
    tag = tag or path.stem
    known = locales.get(tag)
    if known is None or known.tag == locales.DEFAULT:
        offered = ", ".join(locales.TRANSLATED)
        problems.add(display, 1, f"unknown language '{tag}': translation files are named <tag>.po, one of {offered}")
        return None
    if known.tag != tag:
        problems.add(display, 1, f"the language is written {known.tag} ({known.tag}.po), not {tag}")
        return None
    if tag in locales.DERIVED:
        problems.add(
            display,
            1,
            f"{tag} is made from {locales.DERIVED[tag]} by transliteration: translate {locales.DERIVED[tag]}.po",
        )
        return None
    try:
        with path.open("rb") as handle:
            catalogue = read_po(handle, abort_invalid=True)
    except (PoFileError, UnicodeDecodeError, ValueError) as error:
        line = getattr(error, "lineno", 1) or 1
        problems.add(display, line, f"not a readable PO file: {error}")
        return None
    result = TranslationFile(path, display, tag)
    headers = own_headers(path.read_bytes())
    status = headers.get(STATUS_HEADER, "draft").strip() or "draft"
    if status not in STATUSES:
        problems.add(display, 1, f"{STATUS_HEADER} '{status}' is not one of: {', '.join(STATUSES)}")
    result.status = status if status in STATUSES else "draft"
    if result.status == "reviewed":
        result.reviewed_by = (headers.get(REVIEWER_HEADER) or "").strip() or None
        try:
            result.reviewed_on = date.fromisoformat((headers.get(REVIEWED_ON_HEADER) or "").strip())
        except ValueError:
            result.reviewed_on = None
        if result.reviewed_by is None or result.reviewed_on is None:
            problems.add(
                display,
                1,
                f"a reviewed translation names its reviewer ({REVIEWER_HEADER}) and the day "
                f"({REVIEWED_ON_HEADER}: YYYY-MM-DD)",
            )
            result.status = "draft"
    for message in catalogue:
        if not message.id or not message.string:
            continue
        if isinstance(message.id, (list, tuple)):
            problems.add(display, message.lineno or 1, "content segments have no plural forms")
            continue
        result.entries.append(
            Entry(message.context or "", message.id, str(message.string), message.lineno or 1, fuzzy=message.fuzzy)
        )
    return result


def check_entries(file: TranslationFile, segments: list[Segment], problems: Problems) -> Checked:
    """Measure a file against the source's segments: current, stale, missing; every error into `problems`."""
    checked = Checked(file, segments=len(segments))
    known = {(segment.context, segment.source): segment for segment in segments}
    contexts = {segment.context for segment in segments}
    for entry in file.entries:
        segment = known.get((entry.context, entry.source))
        if entry.context not in contexts:
            problems.add(
                file.display, entry.line, f"'{entry.context}' is not a segment of the source (renamed or removed?)"
            )
            continue
        if segment is None or entry.fuzzy:
            checked.stale.append(entry)
            continue
        mismatch = kept_markers(segment.source, entry.text)
        if mismatch:
            problems.add(file.display, entry.line, f"{entry.context}: {mismatch}")
            continue
        checked.current[(entry.context, entry.source)] = entry.text
    by_unit: dict[str, list[Segment]] = {}
    for segment in segments:
        by_unit.setdefault(segment.unit, []).append(segment)
    first_line = {entry.context: entry.line for entry in reversed(file.entries)}
    for unit, parts in by_unit.items():
        done = [(part.context, part.source) in checked.current for part in parts]
        if all(done):
            checked.units_done.add(unit)
        elif unit.startswith("question/") and any(done):
            lacking = [part.context.rsplit("/", 2)[-2:] for part, ok in zip(parts, done, strict=True) if not ok]
            names = ", ".join(
                " ".join(name) if name[0] in ("option", "item", "left", "right") else name[-1] for name in lacking
            )
            line = min(first_line.get(part.context, 1) for part in parts)
            problems.add(file.display, line, f"{unit}: translated in part; not translated: {names}")
    return checked


def kept_markers(source: str, text: str) -> str | None:
    """What a translation changed of the English's citations, lesson links, Markdown markers and Kosovo's asterisk;
    None when it kept them."""
    if sorted(_normal_citations(source)) != sorted(_normal_citations(text)):
        return f"the section citations {sorted(_normal_citations(source))} must stay as in the English"
    if sorted(_LESSON_LINK.findall(source)) != sorted(_LESSON_LINK.findall(text)):
        return "the lesson links (lesson:…) must stay as in the English"
    if "Kosovo" in source and source.count("Kosovo*") + source.count("Kosovo\\*") > 0 and "*" not in text:
        return "Kosovo keeps its asterisk (Kosovo*) in every language"
    source_marks = [_BLOCK_MARK.match(line) is not None for line in source.splitlines()]
    text_marks = [_BLOCK_MARK.match(line) is not None for line in text.splitlines()]
    if source_marks and source_marks[0] != (text_marks[0] if text_marks else False):
        return "the block must keep its Markdown marker (heading #, list item, table row) as in the English"
    return None


def _normal_citations(text: str) -> list[str]:
    return [citation.replace(" ", "") for citation in _CITATION.findall(text)]


def load_folder(
    folder: Path, segments: list[Segment], display, problems: Problems
) -> list[tuple[str, Checked, str | None]]:
    """Every translation file of one source's folder, checked: (tag, what it translates, the tag it is made from);
    sr-Cyrl brings its sr-Latn twin."""
    found: list[tuple[str, Checked, str | None]] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix != ".po":
            problems.add(display(path), 1, "unexpected file: translations are <tag>.po (e.g. sq.po, sr-Cyrl.po)")
            continue
        file = read_file(path, display(path), problems)
        if file is None:
            continue
        checked = check_entries(file, segments, problems)
        found.append((file.tag, checked, None))
        found += [
            (twin, transliterated(checked, twin), file.tag)
            for twin, source in locales.DERIVED.items()
            if source == file.tag
        ]
    return found


def transliterated(checked: Checked, tag: str) -> Checked:
    """The Latin-script twin of a Cyrillic translation (sr-Cyrl → sr-Latn): the same entries, transliterated."""
    twin = Checked(checked.file, segments=checked.segments, units_done=set(checked.units_done))
    twin.current = {key: to_latin(text) for key, text in checked.current.items()}
    twin.stale = checked.stale
    return twin


def write_file(
    path: Path,
    tag: str,
    segments: list[Segment],
    existing: TranslationFile | None,
    source: str,
    *,
    keep_empty: bool = True,
) -> None:
    """Write the PO file of `tag` for these segments: current translations kept, stale ones kept as fuzzy (the old
    English shown as the previous msgid), missing ones empty. What `content translations export` and import write."""
    locale = locales.LOCALES[tag]
    catalogue = Catalog(locale=locale.babel, project="Western Balkans Cybersecurity Academy", fuzzy=False)
    headers = {LANGUAGE_HEADER: tag, SOURCE_HEADER: source, STATUS_HEADER: existing.status if existing else "draft"}
    if existing and existing.status == "reviewed":
        headers[REVIEWER_HEADER] = existing.reviewed_by or ""
        headers[REVIEWED_ON_HEADER] = existing.reviewed_on.isoformat() if existing.reviewed_on else ""
    previous: dict[tuple[str, str], Entry] = {}
    by_context: dict[str, list[Entry]] = {}
    for entry in existing.entries if existing else []:
        previous[(entry.context, entry.source)] = entry
        by_context.setdefault(entry.context, []).append(entry)
    sources = {segment.source for segment in segments}
    for segment in segments:
        found = previous.get((segment.context, segment.source))
        flags: set[str] = set()
        old_id = None
        text = ""
        if found is not None:
            text = found.text
            if found.fuzzy:
                flags.add("fuzzy")
        else:
            older = [entry for entry in by_context.get(segment.context, []) if entry.source not in sources]
            if older and not segment.context.endswith("/body"):
                text, old_id = older[0].text, older[0].source
                flags.add("fuzzy")
        if not text and not keep_empty:
            continue
        catalogue.add(
            segment.source,
            text,
            context=segment.context,
            flags=flags,
            previous_id=old_id or (),
            auto_comments=[segment.unit],
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalogue, width=120, omit_header=False, include_previous=True, sort_output=False)
    path.write_bytes(with_own_headers(_without_babel_noise(buffer.getvalue()), headers))


_HEADER_LINE = re.compile(rb'^"(X-[A-Za-z-]+): (.*)\\n"$')


def own_headers(data: bytes) -> dict[str, str]:
    """The X- headers of a PO file (Babel's catalogue keeps only the standard ones): read from the header entry."""
    found = {}
    for line in data.split(b"\n\n", 1)[0].split(b"\n"):
        match = _HEADER_LINE.match(line.strip())
        if match:
            found[match.group(1).decode("utf-8")] = match.group(2).decode("utf-8")
    return found


def with_own_headers(data: bytes, headers: dict[str, str]) -> bytes:
    head, _, rest = data.partition(b"\n\n")
    head = b"\n".join(line for line in head.split(b"\n") if not _HEADER_LINE.match(line.strip()))
    for name, value in headers.items():
        if name.startswith("X-"):
            head += f'\n"{name}: {value}\\n"'.encode()
    return head + b"\n\n" + rest


def _without_babel_noise(data: bytes) -> bytes:
    """Drop the header lines that change with every write (creation dates, generator), so a diff shows text only."""
    kept = [
        line
        for line in data.split(b"\n")
        if not line.startswith((b'"POT-Creation-Date:', b'"PO-Revision-Date:', b'"Generated-By:'))
    ]
    return b"\n".join(kept)
