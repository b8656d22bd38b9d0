"""An institution's completion figures for a period: the single source of the dashboard, every report format
and the API.

`completion_report` reads everything with a fixed number of set-based queries (report_facts.py, about ten), however
many people the institution has; the rest is arithmetic in Python over the rows those queries return. The dashboard
keeps its rendered figures until `dashboard_cache.data_version`, a fingerprint of what these queries read, changes: a
new input here needs a line there.
"""

import hashlib
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from functools import cached_property
from operator import attrgetter

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_

from academy.accounts.models import User
from academy.core.models import utcnow
from academy.extensions import db
from academy.institutions.report_facts import Facts, Member, load_facts
from academy.learning.models import Course, Enrolment

NOT_ENROLLED, NOT_STARTED, IN_PROGRESS, COMPLETE = "not_enrolled", "not_started", "in_progress", "complete"
STATUS_LABELS = {
    NOT_ENROLLED: _l("not enrolled"),
    NOT_STARTED: _l("not started"),
    IN_PROGRESS: _l("in progress"),
    COMPLETE: _l("complete"),
}


@dataclass(frozen=True)
class Period:
    """Calendar dates, both inclusive, in UTC."""

    date_from: date
    date_to: date

    @cached_property  # asked once for each of thousands of rows
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min)

    @cached_property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.date_to + timedelta(days=1), time.min)

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.date_from.isoformat()} – {self.date_to.isoformat()}"


def default_period(today: date | None = None) -> Period:
    """The last twelve months: from the first day of the month eleven months ago until today."""
    today = today or utcnow().date()
    month_index = today.year * 12 + today.month - 1 - 11
    return Period(date(month_index // 12, month_index % 12 + 1, 1), today)


@dataclass  # not frozen: a report makes one for each enrolment, and a frozen one takes twice as long to make
class PersonRow:
    """One person in one course (or, with no course, a member enrolled in none of the report's courses)."""

    user_id: int
    name: str
    email: str
    track: str
    track_label: str
    course_slug: str
    course_title: str
    enrolled_at: datetime | None
    progress_percent: int | None
    status: str
    completed_at: datetime | None
    completed_in_period: bool
    best_score: int | None
    certificate_code: str
    last_activity: datetime | None
    left: bool

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])


@dataclass(frozen=True)
class CourseSummary:
    """The figures of one course, or of all courses together (slug "")."""

    slug: str
    title: str
    staff: int
    enrolled: int
    complete: int
    completed_in_period: int
    average_best_score: float | None
    certificates: int

    @property
    def completion_percent(self) -> int:
        return round(100 * self.complete / self.enrolled) if self.enrolled else 0


@dataclass(frozen=True)
class ExerciseRow:
    user_id: int
    name: str
    email: str
    date: str
    title: str
    scenario: str
    role: str
    score_percent: int | None
    left: bool


@dataclass(frozen=True)
class Totals:
    staff: int
    staff_enrolled: int
    enrolments: int
    complete: int
    completed_in_period: int
    certificates: int
    average_best_score: float | None
    exercises_attended: int
    left: int


@dataclass
class CompletionReport:
    institution_id: int
    institution_name: str
    country: str
    period: Period
    generated_at: datetime
    course_slugs: list[str]
    summary: list[CourseSummary]
    total: CourseSummary
    totals: Totals
    people: list[PersonRow]
    left: list[PersonRow]
    exercises: list[ExerciseRow]
    definitions: list[tuple[str, str]] = field(default_factory=list)
    verification_code: str = ""


def definitions() -> list[tuple[str, str]]:
    """What each figure means, written into every format of the report."""
    return [
        (_("Period"), _("Calendar dates from the start date to the end date, both included, in UTC.")),
        (
            _("Staff counted"),
            _(
                "Current members of the institution with an active account. People whose "
                "accounts were deactivated are not dropped: they are listed separately under "
                '"Left the institution" and are not part of the totals.'
            ),
        ),
        (
            _("Enrolled"),
            _(
                "A person enrolled in a course. Enrolments, progress and certificates are counted as "
                "they stand when the report is generated."
            ),
        ),
        (
            _("Complete"),
            _(
                "A course is complete when every lesson of it is marked as done and every module quiz "
                "is passed; the completion date is the moment that first happened."
            ),
        ),
        (_("Completed in the period"), _("Courses whose completion date falls within the period.")),
        (
            _("Progress"),
            _("Lessons done and module quizzes passed, as a share of all the course's current lessons and quizzes."),
        ),
        (
            _("Best quiz score"),
            _(
                "The highest score of any submitted attempt at the course's module quizzes: of "
                "several attempts the best one counts. For completion, what counts is that each "
                "module quiz was passed once."
            ),
        ),
        (_("Certificates"), _("Certificates that are valid (not revoked).")),
        (
            _("Exercises attended"),
            _(
                "Live tabletop exercises the person took part in that started within the "
                "period; the score is that of the role they played."
            ),
        ),
        (_("Last activity"), _("The latest of: last sign-in, lesson progress, quiz submission.")),
        (
            _("Verification code"),
            _(
                "A fingerprint of the report's content. The same code is written to the "
                "academy's audit log each time the report is downloaded."
            ),
        ),
    ]


def report_courses(institution, course_ids=None) -> list[tuple[int, str, str]]:
    """(id, slug, title) of the courses a report covers: the chosen ones, else every live course plus any
    course the institution's people are enrolled in."""
    query = db.select(Course.id, Course.slug, Course.title)
    if course_ids is not None:
        query = query.where(Course.id.in_(list(course_ids)) if course_ids else db.false())
    else:
        enrolled = (
            db.select(Enrolment.course_id)
            .join(User, User.id == Enrolment.user_id)
            .where(User.institution_id == institution.id)
        )
        query = query.where(
            or_(and_(Course.published.is_(True), Course.archived_at.is_(None)), Course.id.in_(enrolled))
        )
    return [tuple(row) for row in db.session.execute(query.order_by(Course.position, Course.title, Course.id))]


def completion_report(
    institution, date_from: date, date_to: date, course_ids=None, courses: list[tuple[int, str, str]] | None = None
) -> CompletionReport:
    """The completion report of one institution; the caller loaded the institution through `load_institution`.

    `courses`: report_courses(institution, course_ids), when the caller has them already (its form's choices)."""
    period = Period(date_from, date_to)
    courses = report_courses(institution, course_ids) if courses is None else courses
    data = load_facts(institution.id, [course_id for course_id, _slug, _title in courses])
    people: list[PersonRow] = []
    left: list[PersonRow] = []
    track_labels: dict = {}  # a label is translated once per report, not once per person
    for member in data.members:
        rows = _person_rows(member, courses, data, period, track_labels)
        (people if member.active else left).extend(rows)
    exercises = _exercise_rows(data, period)
    by_course: dict[str, list[PersonRow]] = {slug: [] for _id, slug, _title in courses}
    for row in people:
        if row.course_slug:
            by_course[row.course_slug].append(row)
    summary = [summarise(slug, title, by_course[slug], data.staff_count) for _id, slug, title in courses]
    report = CompletionReport(
        institution_id=institution.id,
        institution_name=institution.name,
        country=institution.country.name,
        period=period,
        generated_at=utcnow().replace(microsecond=0),
        course_slugs=[slug for _i, slug, _t in courses],
        summary=summary,
        total=summarise("", _("All courses"), [r for r in people if r.course_slug], data.staff_count),
        totals=_totals(people, exercises, data, len({r.user_id for r in left})),
        people=people,
        left=left,
        exercises=exercises,
        definitions=definitions(),
    )
    report.verification_code = verification_code(report)
    return report


def verification_code(report: CompletionReport) -> str:
    """A short hash of what the report says (not of when it was generated), such as 3F9A-0C1D-77B2."""

    # Each row as the tuple of its values in field order, written out by repr(): JSON of a dict per row took a third
    # of the whole report for 5,000 people. Every value is a str, int, float, bool, date, datetime or None.
    def rows(kind, items):
        return list(map(attrgetter(*(f.name for f in fields(kind))), items))

    content = (
        report.institution_id,
        report.period.date_from,
        report.period.date_to,
        tuple(report.course_slugs),
        rows(CourseSummary, report.summary),
        rows(PersonRow, report.people),
        rows(PersonRow, report.left),
        rows(ExerciseRow, report.exercises),
    )
    digest = hashlib.sha256(repr(content).encode()).hexdigest()[:12].upper()
    return "-".join(digest[i : i + 4] for i in range(0, 12, 4))


def _latest(*moments):
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def _person_rows(member: Member, courses, data: Facts, period: Period, track_labels: dict) -> list[PersonRow]:
    if member.track not in track_labels:
        track_labels[member.track] = member.track.label if member.track else ""
    # Positional arguments in PersonRow's field order: a report makes thousands of rows.
    who = (member.id, member.name, member.email, member.track.value if member.track else "", track_labels[member.track])
    last_activity, left = _latest(member.last_login_at, data.activity.get(member.id)), not member.active
    start, end = period.start, period.end
    rows = []
    mine = data.courses_of.get(member.id, set())
    for course_id, slug, title in courses if mine else ():
        if course_id not in mine:
            continue
        key = (member.id, course_id)
        enrolled_at, completed_at = data.enrolments[key]
        passed, best = data.quizzes.get(key, (0, None))
        done = data.lessons_done.get(key, 0) + passed
        total = data.steps.get(course_id, 0)
        status = COMPLETE if completed_at else (IN_PROGRESS if done else NOT_STARTED)
        rows.append(
            PersonRow(
                *who,
                slug,
                title,
                enrolled_at,
                round(100 * done / total) if total else 0,
                status,
                completed_at,
                completed_at is not None and start <= completed_at < end,
                best,
                data.certificates.get(key, ""),
                last_activity,
                left,
            )
        )
    if not rows:
        rows.append(PersonRow(*who, "", "", None, None, NOT_ENROLLED, None, False, None, "", last_activity, left))
    return rows


def summarise(slug: str, title: str, rows: list[PersonRow], staff: int) -> CourseSummary:
    scores = [r.best_score for r in rows if r.best_score is not None]
    return CourseSummary(
        slug=slug,
        title=title,
        staff=staff,
        enrolled=len(rows),
        complete=sum(1 for r in rows if r.status == COMPLETE),
        completed_in_period=sum(1 for r in rows if r.completed_in_period),
        average_best_score=round(sum(scores) / len(scores), 1) if scores else None,
        certificates=sum(1 for r in rows if r.certificate_code),
    )


def _exercise_rows(data: Facts, period: Period) -> list[ExerciseRow]:
    rows = []
    for member in data.members:
        for record in data.exercises.get(member.id, []):
            if period.date_from.isoformat() <= record["date"] <= period.date_to.isoformat():
                rows.append(
                    ExerciseRow(
                        user_id=member.id,
                        name=member.name,
                        email=member.email,
                        date=record["date"],
                        title=record["title"],
                        scenario=record["scenario"],
                        role=record["role_title"] or record["role"] or "",
                        score_percent=record["score_percent_of_role"],
                        left=not member.active,
                    )
                )
    return rows


def _totals(people: list[PersonRow], exercises: list[ExerciseRow], data: Facts, left: int) -> Totals:
    enrolled = [r for r in people if r.course_slug]
    scores = [r.best_score for r in enrolled if r.best_score is not None]
    return Totals(
        staff=data.staff_count,
        staff_enrolled=len({r.user_id for r in enrolled}),
        enrolments=len(enrolled),
        complete=sum(1 for r in enrolled if r.status == COMPLETE),
        completed_in_period=sum(1 for r in enrolled if r.completed_in_period),
        certificates=sum(1 for r in enrolled if r.certificate_code),
        average_best_score=round(sum(scores) / len(scores), 1) if scores else None,
        exercises_attended=sum(1 for e in exercises if not e.left),
        left=left,
    )
