"""The dashboard keeps its rendered figures only while nothing they show has changed: every kind of change shows on
the next view exactly as a fresh computation shows it, and kept figures reach nobody who may not see them."""
import re
from datetime import date, datetime

import pytest

from academy.accounts.models import Track
from academy.core.models import utcnow
from academy.extensions import db
from academy.institutions import reporting
from academy.institutions.dashboard_cache import BoundedCache, data_version
from academy.learning import certificates
from academy.learning import services as learning
from academy.learning.models import Certificate, ContentRelease, Enrolment, Module, QuizAttempt
from academy.learning.outlines import own_content_changes
from academy.tabletop import services as tabletop
from tests import factories
from tests.institutions.routes_dashboard import crafted
from tests.institutions.test_reports import dashboard_url

WIDE = (date(2025, 1, 1), date(2026, 12, 31))  # the crafted facts and the played exercise (2026-11-27) all fall in it


@pytest.fixture
def crafted_world(world, course):
    world.course = course
    world.people = crafted(world, course)
    return world


def figures(client, url) -> str:
    """The page below the navigation, without the CSRF tokens (the sign-out form's, and the report form's beside the
    figures) that are signed anew each second."""
    response = client.get(url)
    assert response.status_code == 200
    main = re.search(r"<main .*</main>", response.get_data(as_text=True), re.S).group(0)
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', main)


def enrolment(user, course) -> Enrolment:
    return db.session.scalar(db.select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == course.id))


def changes(w):
    """Each kind of fact the completion report reads, changed the way the application changes it."""
    p, course = w.people, w.course
    first, second = course.modules[0].lessons
    state = {}

    def submit_open_attempt():
        attempt = db.session.scalar(db.select(QuizAttempt).where(QuizAttempt.user_id == p.carol.id))
        attempt.submitted_at, attempt.correct, attempt.score, attempt.passed = utcnow(), 6, 75, True

    def complete_bob():
        db.session.add(QuizAttempt(user_id=p.bob.id, module_id=course.modules[0].id, number=2, started_at=utcnow(),
                                   submitted_at=utcnow(), paper=[], answers={}, correct=7, total=8, score=85,
                                   passed=True))
        db.session.flush()
        assert learning.mark_done(p.bob, enrolment(p.bob, course), second) is not None  # complete: a certificate

    def revoke_alices_certificate():
        certificate = db.session.scalar(db.select(Certificate).where(Certificate.user_id == p.alice.id))
        assert certificates.revoke(certificate, "Issued in error", w.admin)

    def rename_course():
        course.title, course.updated_at = "An introduction, revised", utcnow()

    def add_module():
        db.session.add(Module(slug="second-module", course_id=course.id, title="The second module", summary="",
                              pass_mark=70, questions_per_attempt=4, position=2, content_hash="0" * 64))

    def play_an_exercise():
        from tests.tabletop.routes_reports import played_session

        state["played"] = played_session(w)

    return [
        ("an enrolment", lambda: learning.enrol(w.learner, course)),
        ("a lesson done", lambda: learning.mark_done(p.carol, enrolment(p.carol, course), first)),
        ("a quiz submitted", submit_open_attempt),
        ("a course completed", complete_bob),
        ("a certificate revoked", revoke_alices_certificate),
        ("a lesson archived by a content sync", lambda: setattr(second, "archived_at", utcnow())),
        ("a course renamed by a content sync", rename_course),
        ("a module added by a content sync", add_module),
        ("a first sign-in", lambda: setattr(w.learner, "last_login_at", datetime(2026, 5, 4, 9))),
        ("another track", lambda: setattr(p.carol, "track", Track.OPERATOR)),
        ("a new member", lambda: factories.make_user("newcomer@a.org", institution=w.institution_a)),
        ("a member leaving", lambda: setattr(p.bob, "active", False)),
        ("a member moving to another institution", lambda: setattr(p.carol, "institution_id", w.institution_b.id)),
        ("an exercise played", play_an_exercise),
        ("a score overridden by the trainer", lambda: tabletop.override_score(
            state["played"].session, w.trainer, -5, "Missed the deadline", role="diplomat")),
    ]


def test_every_change_shows_on_the_next_view_as_a_fresh_computation_shows_it(app, client, auth, crafted_world):
    w = crafted_world
    auth.as_user(w.manager_a)
    url = dashboard_url(w.institution_a, period=WIDE)
    before = figures(client, url)
    cache = app.extensions["dashboard_figures"]
    assert len(cache) == 1
    for name, change in changes(w):
        change()
        db.session.commit()
        shown = figures(client, url)
        assert shown != before, f"{name} did not show"
        cache.clear()
        assert shown == figures(client, url), f"after {name} the kept figures differ from a fresh computation"
        before = shown


def test_the_report_is_computed_once_per_change_filter_and_page(app, client, auth, crafted_world, monkeypatch):
    w = crafted_world
    computed = []
    completion_report = reporting.completion_report
    monkeypatch.setattr(reporting, "completion_report",
                        lambda *args, **kwargs: computed.append(args) or completion_report(*args, **kwargs))
    url = dashboard_url(w.institution_a, period=WIDE)
    auth.as_user(w.manager_a)
    first = figures(client, url)
    assert figures(client, url) == first and len(computed) == 1
    figures(client, url + "&track=cert")
    figures(client, url + "&page=2")
    assert len(computed) == 3
    auth.as_user(w.admin)
    assert figures(client, url) == first and len(computed) == 3  # the same figures, whoever may see them
    learning.enrol(w.learner, w.course)
    db.session.commit()
    assert figures(client, url) != first and len(computed) == 4


def test_a_content_sync_of_another_process_changes_the_fingerprint(crafted_world):
    """Another process's sync is seen only through the release it records (this process's own changes are counted
    apart): a row written without this process's session, as the other process's would be."""
    before, own = data_version(crafted_world.institution_a.id), own_content_changes()
    db.session.execute(db.insert(ContentRelease.__table__).values(synced_at=utcnow(), tree_hash="1" * 64, detail={}))
    db.session.commit()
    assert own_content_changes() == own
    assert data_version(crafted_world.institution_a.id) != before


def test_kept_figures_are_shown_only_to_those_who_may_see_them(client, auth, crafted_world):
    w = crafted_world
    url = dashboard_url(w.institution_a, period=WIDE)
    auth.as_user(w.manager_a)
    assert "alice@a.org" in figures(client, url)
    for user, status in ((w.manager_b, 404), (w.learner, 403), (w.trainer, 403)):
        auth.as_user(user)
        response = client.get(url)
        assert response.status_code == status and "alice@a.org" not in response.get_data(as_text=True)


def test_the_cache_drops_the_least_recently_used_entry():
    cache = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)
    cache.put("a", 4)
    assert cache.get("a") == 4 and len(cache) == 2
