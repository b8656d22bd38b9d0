"""An institution's completion figures for a period: the single source of the dashboard, every report format and the API.

`completion_report` reads everything with a fixed number of set-based queries (about ten), however many people the
institution has; the rest is arithmetic in Python over the rows those queries return. The dashboard keeps its rendered
figures until `dashboard_cache.data_version`, a fingerprint of what these queries read, changes: a new input here
needs a line there.
"""
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, distinct, func, or_, union_all

from academy.accounts.models import Track, User
from academy.core.models import utcnow
from academy.extensions import db
from academy.learning.models import Certificate, Course, Enrolment, Lesson, LessonProgress, Module, QuizAttempt
from academy.tabletop.progress import exercise_records

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

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min)

    @property
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


@dataclass(frozen=True)
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

    @property
    def definitions_text(self) -> str:
        return "\n".join(f"{term}: {text}" for term, text in self.definitions)


def definitions() -> list[tuple[str, str]]:
    """What each figure means, written into every format of the report."""
    return [
        (_("Period"), _("Calendar dates from the start date to the end date, both included, in UTC.")),
        (_("Staff counted"), _("Current members of the institution with an active account. People whose "
                               "accounts were deactivated are not dropped: they are listed separately under "
                               "\"Left the institution\" and are not part of the totals.")),
        (_("Enrolled"), _("A person enrolled in a course. Enrolments, progress and certificates are counted as "
                          "they stand when the report is generated.")),
        (_("Complete"), _("A course is complete when every lesson of it is marked as done and every module quiz "
                          "is passed; the completion date is the moment that first happened.")),
        (_("Completed in the period"), _("Courses whose completion date falls within the period.")),
        (_("Progress"), _("Lessons done and module quizzes passed, as a share of all the course's current "
                          "lessons and quizzes.")),
        (_("Best quiz score"), _("The highest score of any submitted attempt at the course's module quizzes: of "
                                 "several attempts the best one counts. For completion, what counts is that each "
                                 "module quiz was passed once.")),
        (_("Certificates"), _("Certificates that are valid (not revoked).")),
        (_("Exercises attended"), _("Live tabletop exercises the person took part in that started within the "
                                    "period; the score is that of the role they played.")),
        (_("Last activity"), _("The latest of: last sign-in, lesson progress, quiz submission.")),
        (_("Verification code"), _("A fingerprint of the report's content. The same code is written to the "
                                   "academy's audit log each time the report is downloaded.")),
    ]


def report_courses(institution, course_ids=None) -> list[tuple[int, str, str]]:
    """(id, slug, title) of the courses a report covers: the chosen ones, else every live course plus any
    course the institution's people are enrolled in."""
    query = db.select(Course.id, Course.slug, Course.title)
    if course_ids is not None:
        query = query.where(Course.id.in_(list(course_ids)) if course_ids else db.false())
    else:
        enrolled = (db.select(Enrolment.course_id).join(User, User.id == Enrolment.user_id)
                    .where(User.institution_id == institution.id))
        query = query.where(or_(and_(Course.published.is_(True), Course.archived_at.is_(None)),
                                Course.id.in_(enrolled)))
    return [tuple(row) for row in db.session.execute(query.order_by(Course.position, Course.title, Course.id))]


def completion_report(institution, date_from: date, date_to: date, course_ids=None) -> CompletionReport:
    """The completion report of one institution; the caller loaded the institution through `load_institution`."""
    period = Period(date_from, date_to)
    courses = report_courses(institution, course_ids)
    data = _Data.load(institution.id, [course_id for course_id, _slug, _title in courses])
    people, left = [], []
    for member in data.members:
        rows = _person_rows(member, courses, data, period)
        (people if member.active else left).extend(rows)
    exercises = _exercise_rows(data, period)
    summary = [summarise(slug, title, [r for r in people if r.course_slug == slug], data.staff_count)
               for _id, slug, title in courses]
    report = CompletionReport(
        institution_id=institution.id, institution_name=institution.name, country=institution.country.name,
        period=period, generated_at=utcnow().replace(microsecond=0), course_slugs=[slug for _i, slug, _t in courses],
        summary=summary, total=summarise("", _("All courses"), [r for r in people if r.course_slug], data.staff_count),
        totals=_totals(people, exercises, data, len({r.user_id for r in left})), people=people, left=left,
        exercises=exercises, definitions=definitions())
    report.verification_code = verification_code(report)
    return report


def verification_code(report: CompletionReport) -> str:
    """A short hash of what the report says (not of when it was generated), such as 3F9A-0C1D-77B2."""
    content = {"institution": report.institution_id, "period": [report.period.date_from, report.period.date_to],
               "courses": report.course_slugs, "summary": [vars(s) for s in report.summary],
               "people": [vars(p) for p in report.people], "left": [vars(p) for p in report.left],
               "exercises": [vars(e) for e in report.exercises]}
    digest = hashlib.sha256(json.dumps(content, default=str, sort_keys=True).encode()).hexdigest()[:12].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 12, 4))


@dataclass
class _Member:
    id: int
    name: str
    email: str
    track: Track | None
    active: bool
    last_login_at: datetime | None


@dataclass
class _Data:
    """The raw facts, one query each, keyed by (user id, course id) or user id."""

    members: list[_Member]
    steps: dict
    enrolments: dict
    lessons_done: dict
    quizzes: dict
    certificates: dict
    activity: dict
    exercises: dict

    @property
    def staff_count(self) -> int:
        return sum(1 for m in self.members if m.active)

    @classmethod
    def load(cls, institution_id: int, course_ids: list[int]) -> "_Data":
        members = [_Member(*row) for row in db.session.execute(
            db.select(User.id, User.name, User.email, User.track, User.active, User.last_login_at)
            .where(User.institution_id == institution_id).order_by(func.lower(User.name), User.id))]
        keyed = _keyed_queries(institution_id, course_ids) if course_ids else {}
        return cls(members=members, steps=keyed.get("steps", {}), enrolments=keyed.get("enrolments", {}),
                   lessons_done=keyed.get("lessons_done", {}), quizzes=keyed.get("quizzes", {}),
                   certificates=keyed.get("certificates", {}), activity=_last_activity(institution_id),
                   exercises=exercise_records([m.id for m in members]))


def _keyed_queries(institution_id: int, course_ids: list[int]) -> dict:
    member = User.institution_id == institution_id
    live_module = and_(Module.archived_at.is_(None), Module.course_id.in_(course_ids))
    steps: dict[int, int] = {}
    for course_id, lessons in db.session.execute(
            db.select(Module.course_id, func.count(Lesson.id))
            .outerjoin(Lesson, and_(Lesson.module_id == Module.id, Lesson.archived_at.is_(None)))
            .where(live_module).group_by(Module.course_id, Module.id)):
        steps[course_id] = steps.get(course_id, 0) + lessons + 1  # the module's lessons and its quiz
    enrolments = {(u, c): (created, completed) for u, c, created, completed in db.session.execute(
        db.select(Enrolment.user_id, Enrolment.course_id, Enrolment.created_at, Enrolment.completed_at)
        .join(User, User.id == Enrolment.user_id).where(member, Enrolment.course_id.in_(course_ids)))}
    lessons_done = {(u, c): n for u, c, n in db.session.execute(
        db.select(LessonProgress.user_id, Module.course_id, func.count(LessonProgress.id))
        .join(Lesson, Lesson.id == LessonProgress.lesson_id).join(Module, Module.id == Lesson.module_id)
        .join(User, User.id == LessonProgress.user_id)
        .where(member, live_module, Lesson.archived_at.is_(None), LessonProgress.done_at.is_not(None))
        .group_by(LessonProgress.user_id, Module.course_id))}
    passed_module = case((QuizAttempt.passed.is_(True), QuizAttempt.module_id))
    quizzes = {(u, c): (passed, best) for u, c, passed, best in db.session.execute(
        db.select(QuizAttempt.user_id, Module.course_id, func.count(distinct(passed_module)),
                  func.max(QuizAttempt.score))
        .join(Module, Module.id == QuizAttempt.module_id).join(User, User.id == QuizAttempt.user_id)
        .where(member, live_module, QuizAttempt.submitted_at.is_not(None))
        .group_by(QuizAttempt.user_id, Module.course_id))}
    certificates = {(u, c): code for u, c, code in db.session.execute(
        db.select(Certificate.user_id, Certificate.course_id, Certificate.code)
        .join(User, User.id == Certificate.user_id)
        .where(member, Certificate.course_id.in_(course_ids), Certificate.revoked_at.is_(None)))}
    return {"steps": steps, "enrolments": enrolments, "lessons_done": lessons_done, "quizzes": quizzes,
            "certificates": certificates}


def _last_activity(institution_id: int) -> dict[int, datetime]:
    """Each member's latest lesson view, lesson done or quiz submission, in one query."""
    moments = union_all(
        db.select(LessonProgress.user_id.label("user_id"), LessonProgress.viewed_at.label("at")),
        db.select(LessonProgress.user_id, LessonProgress.done_at).where(LessonProgress.done_at.is_not(None)),
        db.select(QuizAttempt.user_id, QuizAttempt.submitted_at).where(QuizAttempt.submitted_at.is_not(None)),
    ).subquery()
    query = (db.select(moments.c.user_id, func.max(moments.c.at)).join(User, User.id == moments.c.user_id)
             .where(User.institution_id == institution_id).group_by(moments.c.user_id))
    return {user_id: at for user_id, at in db.session.execute(query)}


def _latest(*moments):
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def _person_rows(member: _Member, courses, data: _Data, period: Period) -> list[PersonRow]:
    common = dict(user_id=member.id, name=member.name, email=member.email,
                  track=member.track.value if member.track else "",
                  track_label=member.track.label if member.track else "",
                  last_activity=_latest(member.last_login_at, data.activity.get(member.id)), left=not member.active)
    rows = []
    for course_id, slug, title in courses:
        key = (member.id, course_id)
        if key not in data.enrolments:
            continue
        enrolled_at, completed_at = data.enrolments[key]
        passed, best = data.quizzes.get(key, (0, None))
        done = data.lessons_done.get(key, 0) + passed
        total = data.steps.get(course_id, 0)
        status = COMPLETE if completed_at else (IN_PROGRESS if done else NOT_STARTED)
        rows.append(PersonRow(course_slug=slug, course_title=title, enrolled_at=enrolled_at,
                              progress_percent=round(100 * done / total) if total else 0, status=status,
                              completed_at=completed_at, completed_in_period=period.contains(completed_at),
                              best_score=best, certificate_code=data.certificates.get(key, ""), **common))
    if not rows:
        rows.append(PersonRow(course_slug="", course_title="", enrolled_at=None, progress_percent=None,
                              status=NOT_ENROLLED, completed_at=None, completed_in_period=False, best_score=None,
                              certificate_code="", **common))
    return rows


def summarise(slug: str, title: str, rows: list[PersonRow], staff: int) -> CourseSummary:
    scores = [r.best_score for r in rows if r.best_score is not None]
    return CourseSummary(slug=slug, title=title, staff=staff, enrolled=len(rows),
                         complete=sum(1 for r in rows if r.status == COMPLETE),
                         completed_in_period=sum(1 for r in rows if r.completed_in_period),
                         average_best_score=round(sum(scores) / len(scores), 1) if scores else None,
                         certificates=sum(1 for r in rows if r.certificate_code))


def _exercise_rows(data: _Data, period: Period) -> list[ExerciseRow]:
    rows = []
    for member in data.members:
        for record in data.exercises.get(member.id, []):
            if period.date_from.isoformat() <= record["date"] <= period.date_to.isoformat():
                rows.append(ExerciseRow(user_id=member.id, name=member.name, email=member.email, date=record["date"],
                                        title=record["title"], scenario=record["scenario"],
                                        role=record["role_title"] or record["role"] or "",
                                        score_percent=record["score_percent_of_role"], left=not member.active))
    return rows


def _totals(people: list[PersonRow], exercises: list[ExerciseRow], data: _Data, left: int) -> Totals:
    enrolled = [r for r in people if r.course_slug]
    scores = [r.best_score for r in enrolled if r.best_score is not None]
    return Totals(staff=data.staff_count, staff_enrolled=len({r.user_id for r in enrolled}), enrolments=len(enrolled),
                  complete=sum(1 for r in enrolled if r.status == COMPLETE),
                  completed_in_period=sum(1 for r in enrolled if r.completed_in_period),
                  certificates=sum(1 for r in enrolled if r.certificate_code),
                  average_best_score=round(sum(scores) / len(scores), 1) if scores else None,
                  exercises_attended=sum(1 for e in exercises if not e.left), left=left)


@dataclass
class PersonSummary:
    """One person across the report's courses: a line of the dashboard's staff table."""

    user_id: int
    name: str
    email: str
    track: str
    track_label: str
    left: bool
    last_activity: datetime | None
    courses: list[PersonRow] = field(default_factory=list)
    exercises: list[ExerciseRow] = field(default_factory=list)

    @property
    def progress_percent(self) -> int | None:
        return round(sum(r.progress_percent for r in self.courses) / len(self.courses)) if self.courses else None

    @property
    def completed(self) -> int:
        return sum(1 for r in self.courses if r.status == COMPLETE)

    @property
    def status(self) -> str:
        if not any(r.status != NOT_STARTED for r in self.courses):
            return NOT_STARTED
        return COMPLETE if self.completed == len(self.courses) else IN_PROGRESS


def people_summaries(rows: list[PersonRow], exercises: list[ExerciseRow]) -> list[PersonSummary]:
    """Group per-course rows by person, in the report's order (by name)."""
    people: dict[int, PersonSummary] = {}
    for row in rows:
        person = people.setdefault(row.user_id, PersonSummary(
            row.user_id, row.name, row.email, row.track, row.track_label, row.left, row.last_activity))
        if row.course_slug:
            person.courses.append(row)
    for exercise in exercises:
        if exercise.user_id in people:
            people[exercise.user_id].exercises.append(exercise)
    return list(people.values())
