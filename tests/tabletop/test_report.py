"""The after-action report, its HTML / PDF / JSON forms, the managers' and participants' views, and exercise records."""
import io
import json
import re
from types import SimpleNamespace

import pytest
from pypdf import PdfReader
from sqlalchemy import event

from academy.accounts.models import Role
from academy.core.models import AuditEvent
from academy.extensions import db
from academy.institutions.exercise_progress import exercise_records
from academy.tabletop import services
from academy.tabletop.report import after_action_report, participant_debrief, report_for_institution, resolve_modules
from tests import factories
from tests.conftest import ANY_HOST_BEHIND_A_PROXY, EVIL_HOST, keep_signed_in_on
from tests.tabletop.routes_reports import play

OPERATOR_RATIONALE = "Protect the customer data first"
CERT_RATIONALE = "Agreed line with the neighbour"
DIPLOMAT_RATIONALE = "Consult before anything public"


@pytest.fixture
def played(app, world, scenario):
    """The played fixture session: a diplomat and a CERT of institution A, an operator of B, a silent guest."""
    session = services.create_session(world.trainer, scenario, "Report test session", allow_guests=True)
    users = {"diplomat": world.learner,
             "cert": factories.make_user("dita@a.org", name="Dita Certi", institution=world.institution_a),
             "operator": factories.make_user("bojan@b.org", name="Bojan Operatori", institution=world.institution_b)}
    people = {role: services.join(session, user=user) for role, user in users.items()}
    guest = services.join(session, guest_name="Gita Guest", guest_institution="Invented Bank")
    for role, participant in [*people.items(), ("operator", guest)]:
        services.assign_role(session, participant, role, world.trainer)
    play(session, world.trainer, **people)
    db.session.commit()
    return SimpleNamespace(session=session, guest=guest, users=users, **people)


def report_url(played, suffix="report"):
    return f"/exercises/sessions/{played.session.id}/{suffix}"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def get_pdf(client, session_id, **kwargs):
    """The PDF as a reader gets it: posted for, made by the job worker (at once in tests), downloaded from the job's
    page; any other answer (403, 404) as it came."""
    asked = client.post(f"/exercises/sessions/{session_id}/report.pdf", **kwargs)
    if asked.status_code != 303:
        return asked
    page = client.get(asked.headers["Location"], **kwargs).get_data(as_text=True)
    return client.get(re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1), **kwargs)


def by_key(items, key="code"):
    return {item[key]: item for item in items}


def test_report_holds_the_session_people_decisions_and_scores(played, world):
    report = after_action_report(played.session)
    session = report["session"]
    assert (session["title"], session["status"], session["exercise_time"]) == ("Report test session", "ended", "25:00")
    assert session["scenario"] == {"slug": "fixture-scenario", "title": "A small scenario for the tests",
                                   "version": 1, "duration_minutes": 60}
    assert session["trainer"] == world.trainer.name and session["started_at"] == "2026-11-27T09:00:00Z"
    people = by_key(report["participants"], "name")
    assert people["Gita Guest"]["guest"] and not people["Dita Certi"]["guest"]
    assert people["Bojan Operatori"]["institution"] == "CERT B" and people["Bojan Operatori"]["role"] == "operator"

    decisions = by_key(report["decisions"], "inject_id")
    assert list(decisions) == ["alert-bank-portal", "bank-call", "embassy-note", "operator-log"]
    cert = decisions["alert-bank-portal"]["responses"][0]
    assert (cert["name"], cert["role"], cert["option_text"], cert["rationale"]) == (
        "Dita Certi", "cert", "Call the neighbouring CERT", CERT_RATIONALE)
    assert (cert["response_seconds"], cert["response_time"]) == (120, "02:00")
    assert cert["consequence"] == "The neighbour confirms the same botnet." and cert["scores"] == {"cert-share": 3}
    operator = decisions["bank-call"]["responses"][0]
    assert (operator["response_seconds"], operator["response_time"], operator["points"]) == (660, "11:00", -2)
    assert [m["name"] for m in decisions["alert-bank-portal"]["missing"]] == ["Bojan Operatori", "Gita Guest"]

    objectives = by_key(report["scores"]["objectives"])
    assert {k: objectives["cert-share"][k] for k in ("earned", "possible", "adjustment", "percent")} == {
        "earned": 3, "possible": 3, "adjustment": 1, "percent": 100}
    assert objectives["op-keep-running"]["percent"] == 0 and objectives["dip-consult"]["percent"] == 100
    roles = by_key(report["scores"]["roles"])
    assert (roles["operator"]["earned"], roles["operator"]["possible"], roles["cert"]["percent"]) == (-2, 2, 100)
    assert [(o["objective"], o["points"], o["reason"]) for o in report["overrides"]] == [
        ("cert-share", 1, "Shared the indicators in writing too")]
    observation = report["observations"][0]
    assert (observation["inject_id"], observation["objective"], observation["exercise_time"]) == (
        "alert-bank-portal", "cert-share", "20:00")


def test_strengths_areas_and_recommended_modules(played):
    report = after_action_report(played.session)
    strengths, areas = report["strengths"], report["improvements"]
    assert [o["code"] for o in strengths["objectives"]] == ["dip-consult", "cert-share"]
    assert [(d["inject_id"], d["name"]) for d in strengths["decisions"]] == [
        ("alert-bank-portal", "Dita Certi"), ("embassy-note", played.users["diplomat"].name)]
    assert [o["code"] for o in areas["objectives"]] == ["op-keep-running"]
    assert [(u["inject_id"], u["audience"]) for u in areas["unanswered"]] == [("operator-log", 2)]
    assert [(s["inject_id"], s["response_time"]) for s in areas["slow"]] == [("bank-call", "11:00")]
    [module] = report["recommended_modules"]
    assert (module["slug"], module["title"], module["course_slug"], module["objectives"]) == (
        "first-module", "The first module", "intro-course", ["op-keep-running"])
    assert module["url"].startswith("/courses/intro-course#module-")
    [question] = report["debrief_questions"]
    assert [m["slug"] for m in question["modules"]] == ["first-module"]


def test_timeline_shows_releases_and_decisions_in_place_on_the_pause_aware_clock(played):
    timeline = after_action_report(played.session)["timeline"]
    steps = [(e["kind"], e["inject_id"], e["exercise_time"]) for e in timeline]
    assert steps[:3] == [("session.started", None, "00:00"), ("inject.released", "alert-bank-portal", "00:00"),
                         ("decision.submitted", "alert-bank-portal", "02:00")]
    assert ("session.resumed", None, "21:00") in steps and steps[-1] == ("session.ended", None, "25:00")
    released = {e["inject_id"]: e for e in timeline if e["kind"] == "inject.released"}
    assert released["neighbour-confirms"]["how"] == "unlocked" and released["bank-call"]["how"] == "scheduled"
    adhoc = released["adhoc-1"]
    assert adhoc["how"] == "adhoc" and adhoc["audience"]["participant"] == played.users["diplomat"].name
    assert adhoc["wall_time"] == "2026-11-27T09:32:00Z" and adhoc["exercise_time"] == "22:00"
    assert [e["event_id"] for e in timeline] == sorted(e["event_id"] for e in timeline)


def test_report_is_deterministic_and_json_ready(played):
    first = after_action_report(played.session)
    db.session.expire_all()
    db.session.info.clear()
    assert json.loads(json.dumps(first)) == after_action_report(played.session)


def test_unknown_modules_are_skipped(app, scenario):
    assert list(resolve_modules(["no-such-module", "first-module"])) == ["first-module"]


def test_html_pdf_and_json_agree_on_the_scores(client, auth, played, world):
    auth.as_user(world.trainer)
    report = after_action_report(played.session)
    html = client.get(report_url(played)).get_data(as_text=True)
    exported = client.get(report_url(played, "report.json"))
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    assert exported.get_json()["scores"] == report["scores"]
    pdf = get_pdf(client, played.session.id)
    text = pdf_text(pdf.data)
    assert "Report test session" in text and "Dita Certi" in text and "Gita Guest" in text
    for objective in report["scores"]["objectives"]:
        row = re.search(rf'<tr data-score="{objective["code"]}">(.*?)</tr>', html, re.S).group(1)
        cells = [re.sub(r"<[^>]+>|\s+", " ", cell).strip()
                 for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        assert cells[2:4] == [str(objective["earned"]), str(objective["possible"])]
        assert cells[-1] == f'{objective["percent"]} %'
        pdf_row = f'{objective["title"]} {objective["role_title"]} {objective["earned"]} {objective["possible"]}'
        assert pdf_row in " ".join(text.split()), pdf_row
    assert "Protect the customer data first" in html and "The CERT used the agreed line at once." in html


def test_pdf_is_an_a4_download(client, auth, played, world):
    auth.as_user(world.admin)
    response = get_pdf(client, played.session.id)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename=exercise-report-{played.session.id}.pdf"
    page = PdfReader(io.BytesIO(response.data)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)


@pytest.mark.parametrize("settings", [ANY_HOST_BEHIND_A_PROXY])
def test_pdf_links_the_recommended_modules_on_the_public_url(client, auth, played, world, hostile_headers):
    auth.as_user(world.admin)
    keep_signed_in_on(client)
    [module] = after_action_report(played.session)["recommended_modules"]
    text = "".join(pdf_text(get_pdf(client, played.session.id, headers=hostile_headers).data).split())
    assert f"http://localhost{module['url']}" in text and EVIL_HOST not in text


def test_downloads_and_exports_are_audited(client, auth, played, world):
    auth.as_user(world.manager_a)
    client.get(report_url(played))
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(AuditEvent.action == "export.download")) == 0
    get_pdf(client, played.session.id)
    client.get(report_url(played, "report.json"))
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "export.download")
                                .order_by(AuditEvent.id)).all()
    assert [(e.detail["format"], e.detail["scope"], e.actor_id, e.institution_id) for e in events] == [
        ("pdf", "institution", world.manager_a.id, world.institution_a.id),
        ("json", "institution", world.manager_a.id, world.institution_a.id)]
    assert events[0].detail["session_id"] == played.session.id and events[0].target.startswith("exercise report")


def test_manager_sees_only_their_institution_in_html_and_json(client, auth, played, world):
    auth.as_user(world.manager_a)
    html = client.get(report_url(played)).get_data(as_text=True)
    data = client.get(report_url(played, "report.json")).get_json()
    pdf = pdf_text(get_pdf(client, played.session.id).data)
    for text in (html, json.dumps(data), " ".join(pdf.split())):
        assert "Dita Certi" in text and CERT_RATIONALE in text and DIPLOMAT_RATIONALE in text
        for private in ("Bojan Operatori", "Gita Guest", OPERATOR_RATIONALE, "The bank calls",
                        "Firewall log excerpt", "The CERT used the agreed line at once.", "in writing too"):
            assert private not in text, private
    assert data["scope"] == {"kind": "institution", "institution_id": world.institution_a.id,
                             "institution": "Ministry A"}
    assert {p["name"] for p in data["participants"]} == {"Dita Certi", played.users["diplomat"].name}
    assert data["observations"] == [] and data["overrides"] == []
    assert by_key(data["scores"]["objectives"])["op-keep-running"]["possible"] == 0


def test_manager_of_the_other_institution_sees_only_their_operator(played, world):
    data = report_for_institution(played.session, world.institution_b.id)
    assert [p["name"] for p in data["participants"]] == ["Bojan Operatori"]
    text = json.dumps(data)
    assert CERT_RATIONALE not in text and "Dita Certi" not in text and "A note from the neighbour" not in text
    decisions = by_key(data["decisions"], "inject_id")
    assert decisions["alert-bank-portal"]["responses"] == []
    assert [u["inject_id"] for u in data["improvements"]["unanswered"]] == ["alert-bank-portal", "operator-log"]


@pytest.mark.parametrize("suffix", ["report", "report.pdf", "report.json"])
def test_report_refused_to_everyone_else(client, auth, played, world, suffix):
    outsider = factories.make_user("manager@c.org", roles=(Role.MANAGER,), institution=factories.make_institution())
    other_trainer = factories.make_user("trainer2@a.org", roles=(Role.TRAINER,), institution=world.institution_a)
    db.session.commit()
    method = client.post if suffix == "report.pdf" else client.get  # the PDF is asked for: a job makes it
    for user, status in ((outsider, 404), (other_trainer, 404), (world.learner, 403), (world.admin, 200)):
        auth.as_user(user)
        answered = method(report_url(played, suffix)).status_code
        assert answered == (303 if status == 200 and suffix == "report.pdf" else status), user.email
    assert method(f"/exercises/sessions/{played.session.id + 99}/{suffix}").status_code == 404


def test_participant_debrief_shows_only_their_own_answers(client, auth, played):
    debrief = participant_debrief(played.session, played.cert)
    assert [d["rationale"] for d in debrief["decisions"]] == [CERT_RATIONALE]
    assert debrief["role_score"]["code"] == "cert" and [o["code"] for o in debrief["objectives"]] == ["cert-share"]
    assert [f["inject_id"] for f in debrief["feed"]] == ["alert-bank-portal", "neighbour-confirms"]
    assert debrief["role_log"] == [] and debrief["recommended_modules"] == []
    auth.as_user(played.users["cert"])
    html = client.get(report_url(played, "debrief")).get_data(as_text=True)
    assert CERT_RATIONALE in html and "The neighbour confirms the same botnet." in html
    for other in (OPERATOR_RATIONALE, DIPLOMAT_RATIONALE, "Bojan Operatori", "The bank calls", "in writing too",
                  "The CERT used the agreed line at once."):
        assert other not in html, other


def test_guest_debrief_has_their_roles_shared_log_and_modules(client, played):
    with client.session_transaction() as cookie:
        cookie["guest_participants"] = {str(played.session.id): played.guest.guest_token}
    response = client.get(report_url(played, "debrief"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Gita Guest" in html and OPERATOR_RATIONALE in html and "The first module" in html
    assert CERT_RATIONALE not in html and DIPLOMAT_RATIONALE not in html
    debrief = participant_debrief(played.session, played.guest)
    assert debrief["decisions"] == [] and [e["name"] for e in debrief["role_log"]] == ["Bojan Operatori"]
    assert [m["slug"] for m in debrief["recommended_modules"]] == ["first-module"]


def test_debrief_is_not_there_for_non_participants(client, auth, played, world):
    assert client.get(report_url(played, "debrief")).status_code == 302
    for user in (world.trainer, world.manager_a, world.admin):
        auth.as_user(user)
        assert client.get(report_url(played, "debrief")).status_code == 404
    with client.session_transaction() as cookie:
        cookie["guest_participants"] = {str(played.session.id): "forged"}
    auth.logout()
    assert client.get(report_url(played, "debrief")).status_code == 302


def test_exercise_records_for_institution_progress(played, world):
    nobody = factories.make_user("nobody@a.org", institution=world.institution_a)
    records = exercise_records([world.learner.id, played.users["operator"].id, nobody.id])
    [diplomat] = records[world.learner.id]
    assert diplomat == {"session_id": played.session.id, "title": "Report test session",
                        "scenario": "A small scenario for the tests", "scenario_slug": "fixture-scenario",
                        "status": "ended", "role": "diplomat", "role_title": "Ministry of Foreign Affairs",
                        "date": "2026-11-27", "decisions": 1, "score_percent_of_role": 100}
    [operator] = records[played.users["operator"].id]
    assert (operator["decisions"], operator["score_percent_of_role"]) == (1, 0)
    assert records[nobody.id] == [] and exercise_records([]) == {}


def test_exercise_records_take_the_same_number_of_queries_for_one_or_ten_users(played, world, scenario):
    users = [factories.make_user(f"player{n}@a.org", institution=world.institution_a) for n in range(10)]
    for number in range(3):
        session = services.create_session(world.trainer, scenario, f"Extra {number}", allow_guests=False)
        for user in users[number::3]:
            services.assign_role(session, services.join(session, user=user), "cert", world.trainer)
    db.session.commit()

    def count(user_ids):
        db.session.expire_all()
        db.session.info.clear()
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            records = exercise_records(user_ids)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements), records

    one, records = count([users[0].id])
    ten, many = count([u.id for u in users])
    assert one == ten == 2
    assert len(records[users[0].id]) == 1 and sum(len(rows) for rows in many.values()) == 10


def test_report_of_a_session_still_in_the_lobby_renders(client, auth, world, scenario):
    session = services.create_session(world.trainer, scenario, "Not started yet", allow_guests=False)
    db.session.commit()
    report = after_action_report(session)
    assert (report["session"]["started_at"], report["session"]["exercise_time"], report["timeline"]) == (
        None, "00:00", [])
    auth.as_user(world.trainer)
    assert client.get(f"/exercises/sessions/{session.id}/report").status_code == 200
    assert "Not started yet" in pdf_text(get_pdf(client, session.id).data)


def test_free_text_answer_to_an_ad_hoc_inject(live, world):
    from tests.tabletop.routes_reports import at

    services.run_command(live.session, "start", world.trainer, now=at(0))
    services.release_adhoc(live.session, "Call the ministry", "Who speaks?", {"roles": ["cert"]}, world.trainer,
                           now=at(1))
    services.decide(live.session, live.cert.participant, "adhoc-1", None, "We call at once", now=at(3))
    services.close_inject(live.session, "adhoc-1", world.trainer)
    db.session.commit()
    report = after_action_report(live.session)
    [decision] = report["decisions"]
    assert (decision["inject_id"], decision["prompt"], decision["closed"], decision["missing"]) == (
        "adhoc-1", None, True, [])
    [answer] = decision["responses"]
    assert (answer["option_text"], answer["rationale"], answer["response_time"], answer["best"]) == (
        None, "We call at once", "02:00", False)
    assert report["timeline"][-1]["kind"] == "inject.closed" and report["improvements"]["unanswered"] == []
