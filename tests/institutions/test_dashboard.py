"""The manager dashboard: who may see it, its figures and charts, the staff table's filters, sorting and pages."""
import re
from datetime import date

import pytest

from academy.extensions import db
from tests import factories
from tests.institutions.routes_dashboard import PERIOD, crafted
from tests.institutions.test_reports import dashboard_summary, dashboard_url


@pytest.fixture
def crafted_world(world, course):
    world.course = course
    world.people = crafted(world, course)
    return world


def staff_emails(page: str) -> list[str]:
    table = re.search(r'data-testid="staff".*?</table>', page, re.S)
    return re.findall(r'<div class="text-body-secondary">([^<]+@[^<]+)</div>', table.group(0)) if table else []


def figure(page: str, key: str) -> str:
    return re.search(rf'data-testid="figure-{key}">([^<]*)<', page).group(1).strip()


def person(page: str, user) -> str:
    return re.search(rf'<tr data-testid="person-{user.id}">(.*?)</tr>', page, re.S).group(1)


def get(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_dashboard_shows_the_figures_and_each_member(client, auth, crafted_world):
    w, p = crafted_world, crafted_world.people
    auth.as_user(w.manager_a)
    page = get(client, dashboard_url(w.institution_a))
    assert [figure(page, k) for k in ("staff", "staff-enrolled", "enrolments", "completed-in-period", "certificates",
                                      "average-best-score", "exercises", "left")] == \
        ["7", "4", "4", "1", "1", "73.3", "0", "1"]
    assert dashboard_summary(page, "intro-course") == ["An introduction", "7", "4", "2", "1", "73.3", "1"]
    bob = person(page, p.bob)
    assert "Policy maker" in bob and "33 %" in bob and "in progress" in bob and "An introduction: 50" in bob
    assert "Apr 2, 2026" in bob  # in the page's language (English here)
    alice = person(page, p.alice)
    assert "100 %" in alice and "An introduction: 90" in alice and "<code>" in alice
    assert "<code>" not in person(page, p.dave)  # a revoked certificate is not counted
    assert "none" in person(page, w.learner) and "never" in person(page, w.learner)
    assert "bert@b.org" not in page and "manager@b.org" not in page
    assert 'id="report"' in page and 'value="2026-01-01"' in page
    assert f'href="/institutions/{w.institution_a.id}/tokens"' in page


def test_charts_by_course_by_track_and_over_time(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    page = get(client, dashboard_url(crafted_world.institution_a))
    assert 'aria-label="An introduction: 50% complete"' in page
    assert 'aria-label="CERT/CSIRT staff: 100% complete"' in page and 'aria-label="Policy maker: 0% complete"' in page
    months = re.findall(r'<td class="text-nowrap">(\d{4}-\d{2})</td>.*?<span>(\d+)</span>', page, re.S)
    assert months == [("2026-01", "0"), ("2026-02", "0"), ("2026-03", "1"), ("2026-04", "0"), ("2026-05", "0"),
                      ("2026-06", "0")]


def test_another_institutions_manager_gets_404_and_other_roles_403(client, auth, crafted_world):
    w = crafted_world
    url = dashboard_url(w.institution_a)
    assert client.get(url).status_code == 302
    for user, status in ((w.manager_b, 404), (w.learner, 403), (w.trainer, 403), (w.admin, 200), (w.manager_a, 200)):
        auth.as_user(user)
        assert client.get(url).status_code == status, user.email
    auth.as_user(w.manager_b)
    assert client.get(f"/institutions/{w.institution_a.id + 1000}/dashboard").status_code == 404


@pytest.mark.parametrize("query, expected", [
    ({"status": "in_progress"}, ["bob@a.org"]),
    ({"status": "complete"}, ["alice@a.org", "dave@a.org"]),
    ({"status": "not_started"}, ["carol@a.org", "learner@a.org", "trainer@a.org", "manager@a.org"]),
    ({"track": "policy"}, ["bob@a.org", "carol@a.org"]),
    ({"track": "cert", "status": "complete"}, ["alice@a.org", "dave@a.org"]),
])
def test_filters_narrow_the_staff_table(client, auth, crafted_world, query, expected):
    auth.as_user(crafted_world.manager_a)
    assert staff_emails(get(client, dashboard_url(crafted_world.institution_a, **query))) == expected


def test_course_filter_and_period_apply_to_the_figures(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    page = get(client, dashboard_url(crafted_world.institution_a, course="intro-course"))
    assert figure(page, "completed-in-period") == "1"
    earlier = get(client, dashboard_url(crafted_world.institution_a, period=(date(2025, 10, 1), date(2025, 12, 31))))
    assert figure(earlier, "completed-in-period") == "1"  # Dave, in November 2025
    assert "Figures for 2025-10-01 – 2025-12-31" in earlier


def test_nobody_matching_the_filters_says_so(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    page = get(client, dashboard_url(crafted_world.institution_a, track="law_enforcement"))
    assert "Nobody matches these filters." in page


@pytest.mark.parametrize("sort, expected", [
    ("name", ["alice@a.org", "bob@a.org", "carol@a.org", "dave@a.org", "learner@a.org", "trainer@a.org",
              "manager@a.org"]),
    ("progress", ["alice@a.org", "dave@a.org", "bob@a.org", "carol@a.org", "learner@a.org", "trainer@a.org",
                  "manager@a.org"]),
    ("activity", ["bob@a.org", "alice@a.org", "dave@a.org", "carol@a.org", "learner@a.org", "trainer@a.org",
                  "manager@a.org"]),
])
def test_sorting(client, auth, crafted_world, sort, expected):
    auth.as_user(crafted_world.manager_a)
    emails = staff_emails(get(client, dashboard_url(crafted_world.institution_a, sort=sort)))
    if sort == "name":  # the world's people are called "User <n>", after the crafted names
        assert emails[:4] == expected[:4] and sorted(emails[4:]) == sorted(expected[4:])
    else:
        assert emails == expected


def test_pagination(app, client, auth, crafted_world):
    app.config["PAGE_SIZE"] = 3
    auth.as_user(crafted_world.manager_a)
    first = get(client, dashboard_url(crafted_world.institution_a))
    assert len(staff_emails(first)) == 3 and "1–3 of 7" in first
    third = get(client, dashboard_url(crafted_world.institution_a, page=3))
    assert len(staff_emails(third)) == 1
    assert staff_emails(get(client, dashboard_url(crafted_world.institution_a, page=99))) == staff_emails(third)
    assert staff_emails(get(client, dashboard_url(crafted_world.institution_a, page="abc"))) == staff_emails(first)


def test_bad_filter_values_are_ignored_with_a_message(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    page = get(client, f"/institutions/{crafted_world.institution_a.id}/dashboard?track=spy&status=done&sort=salary"
                       "&course=no-such-course&from=yesterday&page=-4")
    for label in ("Track", "Status", "Sort by", "Course"):
        assert f"{label}: Not a valid choice. This filter was ignored." in page
    assert "From: Not a valid date value. The last twelve months are shown instead." in page
    assert len(staff_emails(page)) == 7


def test_end_before_start_gives_a_clear_message(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    page = get(client, dashboard_url(crafted_world.institution_a, period=(PERIOD[1], PERIOD[0])))
    assert ("To: The end date (2026-01-01) is before the start date (2026-06-30): choose an end date on or after "
            "the start date. The last twelve months are shown instead.") in page


def test_exercises_attended_with_scores(client, auth, world, course):
    from tests.tabletop.routes_reports import played_session

    world.course = course
    played_session(world)
    auth.as_user(world.manager_a)
    page = get(client, dashboard_url(world.institution_a, period=(date(2026, 11, 1), date(2026, 11, 30))))
    assert figure(page, "exercises") == "2"  # the learner and a colleague of institution A; the guest is nobody's
    assert re.search(r"Matrix exercise \(2026-11-27\)(: \d+ %)?", person(page, world.learner))
    before = get(client, dashboard_url(world.institution_a, period=(date(2026, 1, 1), date(2026, 10, 31))))
    assert figure(before, "exercises") == "0"


def test_navigation_leads_managers_to_the_dashboard(client, auth, world):
    auth.as_user(world.manager_a)
    assert client.get("/institutions/mine").headers["Location"].endswith(
        f"/institutions/{world.institution_a.id}/dashboard")
    detail = get(client, f"/institutions/{world.institution_a.id}")
    assert f'href="/institutions/{world.institution_a.id}/dashboard"' in detail
    dashboard = get(client, f"/institutions/{world.institution_a.id}/dashboard")
    assert f'href="/institutions/{world.institution_a.id}"' in dashboard


def test_an_institution_without_staff_shows_a_helpful_empty_state(client, auth, world):
    empty = factories.make_institution("Empty Office")
    db.session.commit()
    auth.as_user(world.admin)
    page = get(client, f"/institutions/{empty.id}/dashboard")
    assert "No staff have registered yet." in page and "Nobody has left the institution." in page
    assert "No course was completed in this period." in page
