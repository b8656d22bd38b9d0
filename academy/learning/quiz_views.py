"""The learner's module quizzes: overview, start, the paper and the result."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from academy.core.permissions import SIGNED_IN, allow
from academy.extensions import db
from academy.learning import quiz as quizzes
from academy.learning import services
from academy.learning.question_types import TamperedAnswer
from academy.learning.views import bp


def _not_enrolled(course):
    flash(_("Enrol in the course to take its quizzes."), "info")
    return redirect(url_for("learning.course", slug=course.slug))


@bp.get("/courses/<slug>/modules/<module_slug>/quiz")
@allow(SIGNED_IN)
def quiz(slug, module_slug):
    """A module quiz's rules, the learner's attempts so far, and the way to start one."""
    course = services.load_course(slug)
    module = services.load_module(course, module_slug)
    if services.enrolment_for(current_user, course) is None:
        return _not_enrolled(course)
    return render_template(
        "learning/quiz.html", course=course, module=module, status=quizzes.status_for(current_user, module)
    )


@bp.post("/courses/<slug>/modules/<module_slug>/quiz/start")
@allow(SIGNED_IN)
def start_quiz(slug, module_slug):
    """Start an attempt (or resume the open one) and open its paper."""
    course = services.load_course(slug)
    module = services.load_module(course, module_slug)
    if services.enrolment_for(current_user, course) is None:
        return _not_enrolled(course)
    try:
        attempt = quizzes.start_attempt(current_user, module)
    except quizzes.QuizRefused as refusal:
        flash(str(refusal), "warning")
        return redirect(url_for("learning.quiz", slug=course.slug, module_slug=module.slug))
    db.session.commit()
    return redirect(url_for("learning.attempt", attempt_id=attempt.id))


def _paper(attempt, form=None, missing=(), status=200):
    return render_template(
        "learning/attempt.html",
        attempt=attempt,
        module=attempt.module,
        course=attempt.module.course,
        items=quizzes.paper_items(attempt),
        form=form or MultiDict(),
        missing=set(missing),
    ), status


@bp.get("/quiz/attempts/<int:attempt_id>")
@allow(SIGNED_IN)
def attempt(attempt_id):
    """An open attempt's paper, or a submitted attempt's result with feedback."""
    attempt = quizzes.load_attempt(attempt_id, current_user)
    if attempt.is_open:
        return _paper(attempt)
    module = attempt.module
    status = quizzes.status_for(current_user, module)
    return render_template(
        "learning/result.html",
        attempt=attempt,
        module=module,
        course=module.course,
        items=quizzes.result_items(attempt, status.shows_answers),
        status=status,
    )


@bp.post("/quiz/attempts/<int:attempt_id>")
@allow(SIGNED_IN)
def submit_attempt(attempt_id):
    """Score the answers once; a repeated submit just shows the recorded result."""
    attempt = quizzes.load_attempt(attempt_id, current_user)
    if not attempt.is_open:
        return redirect(url_for("learning.attempt", attempt_id=attempt.id))
    try:
        read = quizzes.read_answers(attempt, request.form)
    except TamperedAnswer:
        flash(
            _(
                "Your answers named a question or option that is not on this paper, so nothing was recorded. "
                "Choose your answers again from the page below."
            ),
            "danger",
        )
        return _paper(attempt, status=400)
    if read.missing:
        flash(_("Answer every question (%(n)d left).", n=len(read.missing)), "warning")
        return _paper(attempt, form=request.form, missing=read.missing)
    outcome = quizzes.submit(attempt, read.answers)
    db.session.commit()
    if outcome.recorded:
        if outcome.attempt.passed:
            flash(_("You passed with %(score)d%%.", score=outcome.attempt.score), "success")
        else:
            flash(
                _(
                    "You scored %(score)d%%; the pass mark is %(mark)d%%.",
                    score=outcome.attempt.score,
                    mark=attempt.module.pass_mark,
                ),
                "info",
            )
        if outcome.certificate is not None:
            flash(_("Course complete! Your certificate is ready."), "success")
    return redirect(url_for("learning.attempt", attempt_id=attempt.id))
