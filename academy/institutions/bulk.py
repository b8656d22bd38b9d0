"""Bulk enrolment from CSV: read the file and check every row against the database; enrolment_import.py imports all
rows or none."""

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field

from flask_babel import format_decimal
from flask_babel import gettext as _

from academy.accounts.emails import EmailAddressError, canonical_email, fold_email
from academy.accounts.models import TRACK_LABELS, Track, User
from academy.core.text import NOT_TEXT, clean_line
from academy.extensions import db
from academy.institutions.models import BulkImport
from academy.learning import services as learning
from academy.learning.models import Course, Enrolment
from academy.organisations.models import Institution
from academy.organisations.services import scope_to_user

MAX_ROWS = 10_000  # the size of a file is limited for every request, by MAX_CONTENT_LENGTH (academy/config.py)
COLUMNS = ("email", "name", "track", "courses")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 500  # ids per IN (...): well under every database's parameter limit

NEW, MEMBER, UNCHANGED, ERROR = "new", "member", "unchanged", "error"


class CsvFileError(ValueError):
    """Why a whole file was refused; nothing is stored."""


# --- Reading the file -------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    # The content decides, not the browser's Content-Type: Windows sends a .csv as application/vnd.ms-excel.
    if b"\x00" in data:  # also a UTF-16 "Unicode text" file, whose ASCII header has a NUL after each letter
        raise CsvFileError(
            _(
                "This is not a CSV text file (it may be an Excel workbook or \u201cUnicode text\u201d). "
                "In your spreadsheet choose \u201cSave as\u201d \u203a \u201cCSV UTF-8\u201d and upload "
                "that file."
            )
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CsvFileError(
            _(
                "The file is not in UTF-8 (the first unreadable character is on line %(line)d). Save the file as "
                "UTF-8 \u2014 in Excel: \u201cSave as\u201d \u203a \u201cCSV UTF-8 (comma delimited)\u201d \u2014 and "
                "upload it again.",
                line=line,
            )
        ) from error
    control = NOT_TEXT.search(text)  # text has tabs and line ends; any other control character means binary content
    if control:
        raise CsvFileError(
            _(
                "This is not a CSV text file: line %(line)d holds a control character that text "
                "never contains. Save the file as \u201cCSV UTF-8\u201d and upload it again.",
                line=text.count("\n", 0, control.start()) + 1,
            )
        )
    return text


def _sniff_delimiter(text: str) -> str:
    header = text.lstrip("\r\n").split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _header_positions(header: list[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    missing = [column for column in COLUMNS if column not in names]
    unknown = [cell.strip() for cell, name in zip(header, names, strict=True) if name and name not in COLUMNS]
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    problems = []
    if missing:
        problems.append(_("Missing columns: %(names)s.", names=", ".join(missing)))
    if unknown:
        problems.append(_("Unknown columns: %(names)s.", names=", ".join(unknown)))
    if repeated:
        problems.append(_("Columns named twice: %(names)s.", names=", ".join(repeated)))
    if problems:
        hint = _(
            "The first row must be the header naming the columns %(columns)s (in any order).", columns=",".join(COLUMNS)
        )
        if any("@" in name for name in names):
            hint += " " + _("The first row looks like data: add the header row above it.")
        raise CsvFileError(" ".join(problems + [hint]))
    return {name: position for position, name in enumerate(names) if name}


def parse_csv(data: bytes) -> list[dict]:
    """The data rows of an uploaded file as dicts with their line numbers; CsvFileError when it cannot be used."""
    text = _decode(data)
    if not text.strip():
        raise CsvFileError(_("The file is empty."))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    rows, last_line = [], 0
    try:
        header = next((cells for cells in reader if any(cell.strip() for cell in cells)), None)
        if header is None:
            raise CsvFileError(_("The file has no header row."))
        positions = _header_positions(header)
        known = set(positions.values())
        last_line = reader.line_num
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            # Every value is one line: a tab or line break inside a quoted cell becomes a space.
            row = {name: clean_line(cells[i]).strip() if i < len(cells) else "" for name, i in positions.items()}
            row["extra"] = any(cell.strip() for i, cell in enumerate(cells) if i not in known)
            row["line"] = line
            rows.append(row)
    except csv.Error as error:
        raise CsvFileError(
            _("The file could not be read as CSV near line %(line)d (%(error)s).", line=last_line + 1, error=str(error))
        ) from error
    if not rows:
        raise CsvFileError(_("The file has a header but no data rows."))
    if len(rows) > MAX_ROWS:
        raise CsvFileError(
            _(
                "The file has %(n)s data rows; at most %(max)s can be imported at once. Split it into several files.",
                n=format_decimal(len(rows)),
                max=format_decimal(MAX_ROWS),
            )
        )
    return rows


def store_upload(institution: Institution, uploader, filename: str, rows: list[dict]) -> BulkImport:
    """Keep the parsed rows for the preview and the confirmation."""
    bulk_import = BulkImport(
        institution_id=institution.id,
        uploaded_by_id=uploader.id,
        filename=(clean_line(filename) or "upload.csv")[:255],
        rows=rows,
        status=BulkImport.PREVIEW,
    )
    db.session.add(bulk_import)
    db.session.flush()
    return bulk_import


def _imports(institution: Institution, user):
    query = db.select(BulkImport).where(BulkImport.institution_id == institution.id)
    return scope_to_user(query, user, BulkImport.institution_id)


def load_import(institution: Institution, import_id: int, user) -> BulkImport:
    """One of this institution's uploads; any other id answers 404."""
    return db.first_or_404(_imports(institution, user).where(BulkImport.id == import_id))


def recent_imports(institution: Institution, user, limit: int = 10) -> list[BulkImport]:
    return list(db.session.scalars(_imports(institution, user).order_by(BulkImport.id.desc()).limit(limit)))


# --- Checking the rows ------------------------------------------------------------------------


@dataclass
class RowCheck:
    """One row of the file and what importing it would do."""

    line: int
    email: str
    name: str
    track: str
    courses: str
    kind: str = NEW
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    track_code: str | None = None
    user_id: int | None = None
    add: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    address: str = ""  # the e-mail address as it is stored and looked up (accounts/emails.py)


@dataclass
class FileCheck:
    """Every row checked, with the figures of the preview."""

    rows: list[RowCheck]

    def count(self, *kinds: str) -> int:
        return sum(1 for row in self.rows if row.kind in kinds)

    @property
    def errors(self) -> int:
        return self.count(ERROR)

    @property
    def enrolments_to_add(self) -> int:
        return sum(len(row.add) for row in self.rows if row.kind != ERROR)

    @property
    def already_enrolled(self) -> int:
        return sum(len(row.already) for row in self.rows)

    @property
    def has_work(self) -> bool:
        return self.count(NEW, MEMBER) > 0

    @property
    def fingerprint(self) -> str:
        """What the manager saw: a confirmation only goes ahead if the rows still mean the same."""
        outcome = [(r.line, r.kind, r.address, r.add) for r in self.rows]
        return hashlib.sha256(json.dumps(outcome).encode()).hexdigest()[:32]


def chunks(values: list):
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def existing_accounts(emails: set[str]) -> dict[str, tuple]:
    """(id, institution id, active, track) of the accounts that already use these addresses."""
    found: dict[str, tuple] = {}
    for chunk in chunks(sorted(emails)):
        query = db.select(User.email, User.id, User.institution_id, User.active, User.track).where(
            User.email.in_(chunk)
        )
        found.update({email: tuple(rest) for email, *rest in db.session.execute(query)})
    return found


def _enrolled(user_ids: list[int]) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for chunk in chunks(sorted(user_ids)):
        query = db.select(Enrolment.user_id, Enrolment.course_id).where(Enrolment.user_id.in_(chunk))
        pairs.update((user_id, course_id) for user_id, course_id in db.session.execute(query))
    return pairs


def course_index() -> dict[str, Course]:
    """Published courses by lower-cased slug and, where unambiguous, by lower-cased title."""
    courses = learning.published_courses()
    titles = [c.title.strip().lower() for c in courses]
    index = {title: c for title, c in zip(titles, courses, strict=True) if titles.count(title) == 1}
    index.update({c.slug.lower(): c for c in courses})
    return index


def _track_index() -> dict[str, Track]:
    index = {str(label).lower(): track for track, label in TRACK_LABELS.items()}
    index.update({track.value: track for track in Track})
    return index


def _check_email(row: RowCheck, first_line: dict[str, int]) -> None:
    row.address = fold_email(row.email)
    if not row.address:
        row.problems.append(_("E-mail address missing."))
        return
    if len(row.address) > 255:
        row.problems.append(_("E-mail address longer than 255 characters."))
        return
    try:
        row.address = canonical_email(row.address)
    except EmailAddressError as error:
        row.problems.append(str(error))
        return
    if row.address in first_line:
        row.problems.append(
            _("Duplicate: the same e-mail address is already on line %(line)d.", line=first_line[row.address])
        )
    else:
        first_line[row.address] = row.line


def _check_account(row: RowCheck, account: tuple | None, institution: Institution) -> None:
    if account is None:
        return
    user_id, institution_id, active, track = account
    if institution_id is None:
        row.problems.append(
            _("This address belongs to an account outside any institution; a platform admin can attach it.")
        )
    elif institution_id != institution.id:
        row.problems.append(_("Already a member of another institution: this person cannot be added here."))
    elif not active:
        row.problems.append(_("This person's account here is deactivated; a platform admin can reactivate it."))
    else:
        row.user_id = user_id
        if row.track_code and track and row.track_code != track.value:
            row.notes.append(_("The account keeps its track (%(track)s).", track=track.label))


def _check_fields(row: RowCheck, tracks: dict[str, Track], courses: dict[str, Course], is_new: bool) -> list[Course]:
    if not row.name:
        row.problems.append(_("Name missing."))
    elif len(row.name) > 120:
        row.problems.append(_("Name longer than 120 characters."))
    track = tracks.get(row.track.lower().replace(" ", "_")) or tracks.get(row.track.lower())
    if track:
        row.track_code = track.value
    elif not row.track and is_new:
        row.problems.append(
            _("Track missing: new people need one of %(codes)s.", codes=", ".join(t.value for t in Track))
        )
    elif row.track:
        row.problems.append(
            _(
                "Unknown track \u201c%(track)s\u201d: use one of %(codes)s.",
                track=row.track,
                codes=", ".join(t.value for t in Track),
            )
        )
    chosen = []
    for wanted in (part.strip() for part in row.courses.split(";")):
        course = courses.get(wanted.lower()) if wanted else None
        if wanted and course is None:
            row.problems.append(_("Unknown course \u201c%(course)s\u201d.", course=wanted))
        elif course is not None and course not in chosen:
            chosen.append(course)
    if any(str(value).startswith(FORMULA_START) for value in (row.email, row.name, row.track, row.courses)):
        row.notes.append(_("A cell starts with =, +, - or @: it is kept as plain text, never calculated."))
    return chosen


def _row(raw: dict, **outcome) -> RowCheck:
    return RowCheck(
        line=raw["line"],
        email=raw.get("email", ""),
        name=raw.get("name", ""),
        track=raw.get("track", ""),
        courses=raw.get("courses", ""),
        **outcome,
    )


def check_rows(institution: Institution, raw_rows: list[dict]) -> FileCheck:
    """What importing these rows would do now, row by row; a handful of queries whatever the size."""
    tracks, courses = _track_index(), course_index()
    first_line: dict[str, int] = {}
    checked = []
    for raw in raw_rows:
        row = _row(raw)
        if raw.get("extra"):
            row.problems.append(
                _(
                    "This row has more cells than the header. Put several courses in one cell, "
                    "separated by \u201c;\u201d (in quotes when \u201c;\u201d also separates the "
                    "columns)."
                )
            )
        _check_email(row, first_line)
        checked.append(row)
    accounts = existing_accounts({row.address for row in checked})
    members = [a[0] for a in accounts.values() if a[1] == institution.id and a[2]]
    enrolled = _enrolled(members)
    for row in checked:
        account = accounts.get(row.address)
        chosen = _check_fields(row, tracks, courses, account is None)
        _check_account(row, account, institution)
        if row.problems:
            row.kind = ERROR
        elif row.user_id is None:
            row.kind, row.add = NEW, [c.slug for c in chosen]
        else:
            row.add = [c.slug for c in chosen if (row.user_id, c.id) not in enrolled]
            row.already = [c.slug for c in chosen if (row.user_id, c.id) in enrolled]
            row.kind = MEMBER if row.add else UNCHANGED
    return FileCheck(checked)


def imported_rows(bulk_import: BulkImport) -> FileCheck:
    """The rows of a finished import with what was done to each, as recorded at the time."""
    outcomes = (bulk_import.result or {}).get("rows", [])
    return FileCheck(
        [_row(raw, kind=done["kind"], add=done["add"]) for raw, done in zip(bulk_import.rows, outcomes, strict=False)]
    )
