"""Route-matrix rows of the manager dashboard and the completion report (academy/institutions/dashboard_views.py),
and the small crafted institution that the dashboard and report tests read."""
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from academy.accounts.models import Track
from academy.extensions import db
from academy.learning.certificates import new_code
from academy.learning.models import Certificate, Enrolment, LessonProgress, QuizAttempt
from tests import factories
from tests.route_rows import row

# Managers of the institution and admins; another institution's manager meets 404; other roles 403.
MANAGERS_OF_A = row(302, 403, 403, 200, 404, 200)

ROUTES = {
    ("institutions.dashboard", "GET"): (lambda w: f"/institutions/{w.institution_a.id}/dashboard", MANAGERS_OF_A),
    # A real download (the CSV): the form alone is covered by the tests of the report.
    ("institutions.completion_report", "GET"): (
        lambda w: f"/institutions/{w.institution_a.id}/reports/completion?format=csv", MANAGERS_OF_A),
    # The form posted empty: its defaults (the last twelve months, every course, PDF) start a job; its page follows.
    ("institutions.completion_report", "POST"): (
        lambda w: f"/institutions/{w.institution_a.id}/reports/completion", row(302, 403, 403, 303, 404, 303)),
}


# A small crafted institution whose figures the tests know by heart (period 2026-01-01 – 2026-06-30):
# intro-course — staff counted 7 (the world's learner, trainer and manager A, plus Alice, Bob, Carol and Dave),
# enrolled 4, complete 2 (Alice in the period, Dave before it), completed in the period 1, best scores 90, 50 and 80
# (average 73.3; Carol's open attempt has no score), certificates 1 (Dave's was revoked). Erin left (deactivated)
# and completed in the period; Bert belongs to institution B.
PERIOD = (date(2026, 1, 1), date(2026, 6, 30))
EXPECTED_COURSE = {"staff": 7, "enrolled": 4, "complete": 2, "completed_in_period": 1, "average_best_score": 73.3,
                   "certificates": 1}


def crafted(w, course):
    """Enrolments, lesson progress, quiz attempts and certificates written directly, as the figures need them."""
    module = course.modules[0]
    first, second = module.lessons[0], module.lessons[1]
    a, b = w.institution_a, w.institution_b
    people = SimpleNamespace(
        alice=factories.make_user("alice@a.org", name="Alice Complete", institution=a, track=Track.CERT),
        bob=factories.make_user("bob@a.org", name="Bob Halfway", institution=a, track=Track.POLICY),
        carol=factories.make_user("carol@a.org", name="Carol Starter", institution=a, track=Track.POLICY),
        dave=factories.make_user("dave@a.org", name="Dave Earlier", institution=a, track=Track.CERT),
        erin=factories.make_user("erin@a.org", name="Erin Departed", institution=a, track=Track.CERT),
        bert=factories.make_user("bert@b.org", name="Bert Other", institution=b, track=Track.CERT),
    )
    people.erin.active = False

    def enrol(user, completed=None):
        db.session.add(Enrolment(user_id=user.id, course_id=course.id, created_at=datetime(2025, 12, 1, 9),
                                 last_activity_at=datetime(2025, 12, 1, 9), completed_at=completed))

    def done(user, lesson, when):
        db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, viewed_at=when, done_at=when))

    def attempt(user, number, score, passed, when):
        db.session.add(QuizAttempt(user_id=user.id, module_id=module.id, number=number, started_at=when,
                                   submitted_at=when if score is not None else None, paper=[], answers={},
                                   correct=None, total=8, score=score, passed=passed))

    def certify(user, when, revoked=False):
        db.session.add(Certificate(code=new_code(), user_id=user.id, course_id=course.id, holder_name=user.name,
                                   course_title=course.title, issued_at=when,
                                   revoked_at=when + timedelta(days=3) if revoked else None))

    finished = {"alice": datetime(2026, 3, 15, 10), "dave": datetime(2025, 11, 1, 10),
                "erin": datetime(2026, 2, 1, 10), "bert": datetime(2026, 2, 1, 10)}
    for name, when in finished.items():
        user = getattr(people, name)
        enrol(user, completed=when)
        done(user, first, when - timedelta(days=5))
        done(user, second, when - timedelta(days=4))
        certify(user, when, revoked=name == "dave")
    attempt(people.alice, 1, 60, False, datetime(2026, 3, 12, 10))
    attempt(people.alice, 2, 90, True, finished["alice"])
    attempt(people.dave, 1, 80, True, finished["dave"])
    attempt(people.erin, 1, 100, True, finished["erin"])
    attempt(people.bert, 1, 95, True, finished["bert"])
    enrol(people.bob)
    done(people.bob, first, datetime(2026, 4, 1, 10))
    attempt(people.bob, 1, 50, False, datetime(2026, 4, 2, 10))
    enrol(people.carol)
    attempt(people.carol, 1, None, None, datetime(2026, 4, 3, 10))  # still open: no score
    db.session.commit()
    return people
