"""Module quizzes: the attempt policy, drawing a paper, reading answers and scoring — on the server only."""

from dataclasses import dataclass
from random import Random
from typing import Any, cast

from flask import abort
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError

from academy.accounts.languages import current_tag
from academy.accounts.models import User
from academy.core.models import utcnow
from academy.extensions import db
from academy.learning import services, translations
from academy.learning.models import Certificate, Module, Question, QuizAttempt
from academy.learning.question_types import TYPES, TamperedAnswer


class QuizRefused(Exception):
    """An attempt cannot be started; the message tells the learner why."""


def live_questions(module: Module) -> list[Question]:
    return [question for question in module.questions if not question.is_archived]


@dataclass
class QuizStatus:
    """A learner's standing in one module quiz, and the module's attempt policy."""

    module: Module
    attempts: list[QuizAttempt]
    bank_size: int
    enrolled: bool

    @property
    def pass_mark(self) -> int:
        return self.module.pass_mark

    @property
    def questions(self) -> int:
        return min(self.module.questions_per_attempt, self.bank_size)

    @property
    def allowed(self) -> int:
        """Attempts allowed; 0 means unlimited."""
        return self.module.max_attempts

    @property
    def used(self) -> int:
        return len(self.attempts)

    @property
    def open_attempt(self) -> QuizAttempt | None:
        return next((attempt for attempt in self.attempts if attempt.is_open), None)

    @property
    def best_score(self) -> int | None:
        return max((a.score for a in self.attempts if a.score is not None), default=None)

    @property
    def passed(self) -> bool:
        return any(attempt.passed for attempt in self.attempts)

    @property
    def finished(self) -> bool:
        """No attempt is left: the limit is reached and none is still open."""
        return bool(self.allowed) and self.used >= self.allowed and self.open_attempt is None

    @property
    def shows_answers(self) -> bool:
        """Whether feedback may show the keyed answers now, by the module's review policy."""
        review = self.module.review
        if review == "always":
            return True
        if review == "after_last_attempt":
            return self.finished
        if review == "after_pass_or_last_attempt":
            return self.passed or self.finished
        return False  # "never", and any value this code does not know

    @property
    def withheld_note(self) -> str | None:
        """Why the feedback does not show the right answers yet, or None when it shows them."""
        if self.shows_answers:
            return None
        review, limited = self.module.review, bool(self.allowed)
        if review == "after_pass_or_last_attempt" and limited:
            return _("The right answers are shown once you pass this quiz or have used your last attempt.")
        if review == "after_pass_or_last_attempt":
            return _("The right answers are shown once you pass this quiz.")
        if review == "after_last_attempt" and limited:
            return _("The right answers are shown once you have used your last attempt.")
        return _("This quiz does not show its right answers.")

    @property
    def refusal(self) -> str | None:
        """Why no attempt can be started now, or None when one can (or one is open)."""
        if self.open_attempt is not None:
            return None
        if not self.enrolled:
            return _("Enrol in the course to take its quizzes.")
        if not self.bank_size:
            return _("This quiz has no questions yet.")
        if self.allowed and self.used >= self.allowed:
            return ngettext(
                "You have used your only attempt at this quiz.",
                "You have used all %(num)d attempts at this quiz.",
                self.allowed,
            )
        return None


def status_for(user, module: Module) -> QuizStatus:
    """The learner's attempts at a module quiz, oldest first, with what the policy allows."""
    attempts = db.session.scalars(
        db.select(QuizAttempt)
        .where(QuizAttempt.user_id == user.id, QuizAttempt.module_id == module.id)
        .order_by(QuizAttempt.number)
    ).all()
    enrolled = services.enrolment_for(user, module.course) is not None
    return QuizStatus(module, list(attempts), len(live_questions(module)), enrolled)


def _open_attempt(user, module: Module) -> QuizAttempt | None:
    return db.session.scalar(
        db.select(QuizAttempt).where(
            QuizAttempt.user_id == user.id, QuizAttempt.module_id == module.id, QuizAttempt.submitted_at.is_(None)
        )
    )


def start_attempt(user, module: Module, rng: Random | None = None) -> QuizAttempt:
    """The open attempt, or a new one with a freshly drawn paper; QuizRefused when the policy says no."""
    status = status_for(user, module)
    if status.open_attempt is not None:
        return status.open_attempt
    if status.refusal:
        raise QuizRefused(status.refusal)
    rng = rng or Random()
    drawn = rng.sample(live_questions(module), status.questions)
    paper = [{"question_id": q.id, "shown": TYPES[q.type].present(q.data, rng)} for q in drawn]
    number = max((attempt.number for attempt in status.attempts), default=0) + 1
    try:
        with db.session.begin_nested():
            attempt = QuizAttempt(user_id=user.id, module_id=module.id, number=number, paper=paper, total=len(paper))
            db.session.add(attempt)
    except IntegrityError:
        # A parallel start took this number first: both clicks share its attempt.
        open_attempt = _open_attempt(user, module)
        if open_attempt is None:
            raise QuizRefused(_("The quiz could not be started. Please try again.")) from None
        attempt = open_attempt
    return attempt


def load_attempt(attempt_id: int, user) -> QuizAttempt:
    """The user's own attempt in a course still open to learners, or 404."""
    attempt = db.session.get(QuizAttempt, attempt_id)
    if attempt is None or attempt.user_id != user.id:
        abort(404)
    course = attempt.module.course
    if not course.published or course.is_archived:
        abort(404)
    return attempt


@dataclass
class PaperItem:
    """One question as this attempt shows it: only ids and texts, never which answer is right."""

    number: int
    question: Question
    shown: dict

    @property
    def kind(self) -> str:
        return self.question.type

    @property
    def field(self) -> str:
        return f"q-{self.question.id}"

    @property
    def options(self) -> list[tuple[str, str]]:
        """Choices (single, multiple, true/false) or items to place (ordering), in the shown order."""
        data = self.question.data
        if self.kind == "true_false":
            return [("true", _("True")), ("false", _("False"))]
        if self.kind == "ordering":
            texts = {item["id"]: item["text"] for item in data["items"]}
            return [(item_id, texts[item_id]) for item_id in self.shown["items"]]
        if self.kind == "matching":
            texts = {pair["id"]: pair["left"] for pair in data["pairs"]}
            return [(left_id, texts[left_id]) for left_id in self.shown["lefts"]]
        texts = {option["id"]: option["text"] for option in data["options"]}
        return [(option_id, texts[option_id]) for option_id in self.shown["options"]]

    @property
    def targets(self) -> list[tuple[str, str]]:
        """The right-hand entries of a matching question, in the shown order."""
        texts = {pair["right_id"]: pair["right"] for pair in self.question.data.get("pairs", [])}
        return [(right_id, texts[right_id]) for right_id in self.shown.get("rights", [])]


def paper_items(attempt: QuizAttempt) -> list[PaperItem]:
    """The attempt's questions in the order drawn, even those archived since."""
    ids = [entry["question_id"] for entry in attempt.paper]
    questions = {q.id: q for q in db.session.scalars(db.select(Question).where(Question.id.in_(ids)))}
    # In the reader's language where the whole question has a current translation: texts change, ids do not, so
    # an answer scores the same in every language.
    questions = translations.localised_questions(questions, attempt.module.slug, current_tag())
    return [
        PaperItem(n, questions[entry["question_id"]], entry["shown"]) for n, entry in enumerate(attempt.paper, start=1)
    ]


@dataclass
class ReadAnswers:
    answers: dict  # question id (str) -> the type's answer
    missing: list[int]  # ids of the questions left unanswered


def read_answers(attempt: QuizAttempt, form) -> ReadAnswers:
    """The answers in the form; TamperedAnswer for any field or value that was not on the paper."""
    items = paper_items(attempt)
    expected = set().union(*(TYPES[item.kind].field_names(item.shown, item.field) for item in items))
    unknown = [key for key in form if key.startswith("q-") and key not in expected]
    if unknown:
        raise TamperedAnswer(unknown[0])
    answers, missing = {}, []
    for item in items:
        answer = TYPES[item.kind].read(item.question.data, item.shown, form, item.field)
        if answer is None:
            missing.append(item.question.id)
        else:
            answers[str(item.question.id)] = answer
    return ReadAnswers(answers, missing)


@dataclass
class Outcome:
    attempt: QuizAttempt
    recorded: bool  # False when another request had already submitted this attempt
    certificate: Certificate | None = None


def submit(attempt: QuizAttempt, answers: dict) -> Outcome:
    """Score on the server and record the result exactly once, however many times it is sent."""
    scored: dict[str, dict[str, Any]] = {}
    for item in paper_items(attempt):
        given = answers.get(str(item.question.id))
        right = given is not None and TYPES[item.kind].is_correct(item.question.data, given)
        scored[str(item.question.id)] = {"given": given, "correct": right}
    correct = sum(entry["correct"] for entry in scored.values())
    total = len(scored)
    score = round(100 * correct / total) if total else 0
    passed = score >= attempt.module.pass_mark
    # The WHERE on submitted_at makes the first of two racing submits the only one that counts. An UPDATE without
    # RETURNING gives a CursorResult (with its rowcount), which Session.execute's annotations do not tell.
    result = cast(
        CursorResult,
        db.session.execute(
            update(QuizAttempt)
            .where(QuizAttempt.id == attempt.id, QuizAttempt.submitted_at.is_(None))
            .values(submitted_at=utcnow(), answers=scored, correct=correct, total=total, score=score, passed=passed)
            .execution_options(synchronize_session=False)
        ),
    )
    db.session.refresh(attempt)
    if result.rowcount != 1:
        return Outcome(attempt, recorded=False)
    user = db.session.get(User, attempt.user_id)
    enrolment = services.enrolment_for(user, attempt.module.course)
    certificate = None
    if enrolment is not None:
        enrolment.last_activity_at = utcnow()
        if passed:
            certificate = services.complete_if_done(user, enrolment)
    return Outcome(attempt, recorded=True, certificate=certificate)


@dataclass
class ResultItem:
    """One question of a submitted attempt, with the feedback that teaches and no more than the policy allows."""

    number: int
    question: Question
    correct: bool
    given: list[str]
    solution: list[str] | None  # None while the review policy withholds the keyed answer
    explanation: str | None


def result_items(attempt: QuizAttempt, shows_answers: bool) -> list[ResultItem]:
    """Each question of a submitted attempt: right or wrong, the learner's answer, and the solution if allowed."""
    items = []
    for item in paper_items(attempt):
        entry = (attempt.answers or {}).get(str(item.question.id), {})
        kind = TYPES[item.kind]
        question, correct = item.question, bool(entry.get("correct"))
        # An explanation says why the keyed answer is right: a wrong answer gets the hint until answers are shown.
        explanation = question.explanation if shows_answers or correct else question.hint
        items.append(
            ResultItem(
                item.number,
                question,
                correct,
                kind.describe(question.data, entry.get("given")),
                kind.solution(question.data) if shows_answers else None,
                explanation,
            )
        )
    return items
