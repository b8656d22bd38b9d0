from academy.extensions import db
from tests.route_rows import REDIRECT_ALL, row

# Only its owner sees an attempt; everyone else gets 404, as if it did not exist.
OWNER_ONLY = row(302, 200, 404, 404, 404, 404)


def learner_attempt_url(w) -> str:
    """Enrol the learner and start an attempt of theirs: the URL every persona then tries."""
    from academy.learning import quiz, services

    services.enrol(w.learner, w.course)
    attempt = quiz.start_attempt(w.learner, w.course.modules[0])
    db.session.commit()
    return f"/quiz/attempts/{attempt.id}"


ROUTES = {
    # Not enrolled: every signed-in caller is sent to the course page to enrol first.
    ("learning.quiz", "GET"): (lambda w: f"/courses/{w.course.slug}/modules/first-module/quiz", REDIRECT_ALL),
    ("learning.start_quiz", "POST"): (lambda w: f"/courses/{w.course.slug}/modules/first-module/quiz/start",
                                      REDIRECT_ALL),
    ("learning.attempt", "GET"): (learner_attempt_url, OWNER_ONLY),
    # An empty form answers nothing: the owner gets the paper again (200), nothing is recorded.
    ("learning.submit_attempt", "POST"): (learner_attempt_url, OWNER_ONLY),
}
