"""`flask backup` and `flask restore`: a realistic SQLite database restored into a fresh SQLite database (and into
PostgreSQL when TEST_DATABASE_URL is one) gives the same reports; a restore refuses what it cannot do whole."""
import gzip
import json
import os
from dataclasses import asdict
from datetime import date
from random import Random
from types import SimpleNamespace

import pytest
from flask_migrate import downgrade, stamp, upgrade
from werkzeug.datastructures import MultiDict

from academy import create_app
from academy.accounts.models import User
from academy.extensions import db
from academy.institutions.reporting import completion_report
from academy.learning import quiz, services
from academy.learning.certificates import issue_certificate, revoke
from academy.learning.models import Certificate, Course
from academy.organisations.models import Institution
from academy.tabletop import services as live
from academy.tabletop.models import LiveSession, Scenario
from academy.tabletop.report import after_action_report
from tests import factories
from tests.conftest import FreshContextClient, build_settings
from tests.learning.test_quiz import answers_for
from tests.tabletop.routes_reports import play, sync_fixture_scenario

# SQLite → PostgreSQL needs the PostgreSQL server of scripts/ci-services: the first run of `make test` has it; the
# SQLite run deselects the case by its marker rather than skipping it.
TARGETS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture
def settings(tmp_path):
    """The database backed up is always a SQLite file, whichever database the rest of the suite runs on."""
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'source.db'}"}


@pytest.fixture
def data(app, world, course):
    """People of two institutions, the fixture course with progress, a passed quiz and its certificate, a revoked
    certificate, and a played exercise session; the database stamped with the migrations' head (built by create_all,
    which the migrations test shows to be the same schema)."""
    learner, colleague = world.learner, factories.make_user("dita@a.org", name="Dita Certi",
                                                             institution=world.institution_a)
    enrolment = services.enrol(learner, course)
    for lesson in services.course_lessons(course):
        services.mark_done(learner, enrolment, lesson)
    module = services.live_modules(course)[0]
    attempt = quiz.start_attempt(learner, module, Random(7))
    form = MultiDict([(key, value) for key, given in answers_for(attempt).items()
                      for value in (given if isinstance(given, list) else [given])])
    outcome = quiz.submit(attempt, quiz.read_answers(attempt, form).answers)
    assert outcome.attempt.passed and outcome.certificate is not None
    partial = services.enrol(colleague, course)
    services.record_view(colleague, partial, services.course_lessons(course)[0])
    failed = quiz.start_attempt(colleague, module, Random(8))
    quiz.submit(failed, {})
    revoked = issue_certificate(world.manager_b, course)
    revoke(revoked, "Issued by mistake in a test", world.admin)

    session = live.create_session(world.trainer, sync_fixture_scenario(), "Backup exercise", allow_guests=True)
    people = {"diplomat": live.join(session, user=learner), "cert": live.join(session, user=colleague),
              "operator": live.join(session, guest_name="Guest Operator", guest_institution="Invented Bank")}
    for role, participant in people.items():
        live.assign_role(session, participant, role, world.trainer)
    play(session, world.trainer, **people)
    db.session.commit()
    stamp()
    return SimpleNamespace(session_id=session.id, certificate=outcome.certificate.code, revoked=revoked.code,
                           institutions=[world.institution_a.id, world.institution_b.id],
                           last_user_id=db.session.scalar(db.select(db.func.max(User.id))))


def facts(app, data) -> dict:
    """What must survive a backup and restore: the completion reports, the after-action report, verifications."""
    client = app.test_client()
    with app.app_context(), app.test_request_context():
        reports = {}
        for institution_id in data.institutions:
            report = completion_report(db.session.get(Institution, institution_id), date(2020, 1, 1),
                                       date(2035, 12, 31))
            reports[institution_id] = {
                "people": [asdict(row) for row in report.people], "left": [asdict(row) for row in report.left],
                "exercises": [asdict(row) for row in report.exercises],
                "summary": [asdict(row) for row in report.summary], "totals": asdict(report.totals),
                "verification_code": report.verification_code}
        session = db.session.get(LiveSession, data.session_id)
        after_action = json.dumps(after_action_report(session), sort_keys=True)
        counts = {model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model))
                  for model in (Certificate, Course, Scenario, LiveSession)}
    verified = {code: (response.status_code, response.get_data(as_text=True))
                for code in (data.certificate, data.revoked, "ABCD-EFGH-JKLM")
                for response in [client.get(f"/verify/{code}")]}
    return {"reports": reports, "after_action": after_action, "verified": verified, "counts": counts}


def migrated_target(url: str):
    """An application on an empty database at the migrations' head."""
    target = create_app(build_settings(SQLALCHEMY_DATABASE_URI=url))
    target.test_client_class = FreshContextClient
    with target.app_context():
        _empty(target)
        upgrade()
    return target


def _empty(target) -> None:
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


@pytest.fixture
def target_url(request, tmp_path):
    """The database restored into: a new SQLite file, or the suite's PostgreSQL database (emptied after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.db'}"
        return
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.fail("restoring into PostgreSQL needs TEST_DATABASE_URL (PostgreSQL): run it as "
                    "`scripts/ci-services .venv/bin/python -m pytest -m postgresql` (make test does)")
    yield url
    cleaner = create_app(build_settings())
    with cleaner.app_context():
        _empty(cleaner)
        db.engine.dispose()


def invoke(app, *args):
    """Run a command of this app (the CLI would otherwise run in whichever app's context is open)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=[*args])


def backup(app, path) -> None:
    result = invoke(app, "backup", str(path))
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.output


def restore(app, path):
    return invoke(app, "restore", str(path))


@pytest.mark.parametrize("target_url", TARGETS, indirect=True)
def test_restore_gives_the_same_reports_and_verifications(app, data, tmp_path, target_url):
    before = facts(app, data)
    path = tmp_path / "academy.jsonl.gz"
    backup(app, path)
    target = migrated_target(target_url)

    result = restore(target, path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Restored ")

    after = facts(target, data)
    assert after["reports"] == before["reports"]
    assert after["after_action"] == before["after_action"]
    assert after["verified"] == before["verified"]
    assert after["counts"] == before["counts"]
    assert [status for status, _page in before["verified"].values()] == [200, 200, 404]
    ministry = before["reports"][data.institutions[0]]
    assert {row["certificate_code"] for row in ministry["people"]} >= {data.certificate}
    assert {row["scenario"] for row in ministry["exercises"]} == {"A small scenario for the tests"}
    assert "Issued by mistake in a test" in before["verified"][data.revoked][1]
    with target.app_context():
        scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
        assert scenario.current_version is not None and scenario.current_version.scenario_id == scenario.id
        # New rows continue after the restored ids (PostgreSQL sequences were moved on).
        newcomer = factories.make_user("new@a.org", institution=db.session.get(Institution, data.institutions[0]))
        db.session.commit()
        assert newcomer.id > data.last_user_id
        db.session.remove()
        db.engine.dispose()


def test_a_backup_of_the_restored_database_is_the_same_file(app, data, tmp_path):
    first, second = tmp_path / "first.jsonl.gz", tmp_path / "second.jsonl.gz"
    backup(app, first)
    target = migrated_target(f"sqlite:///{tmp_path / 'copy.db'}")
    assert restore(target, first).exit_code == 0
    backup(target, second)

    def body(path):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines))
            return header, list(lines)

    (header_1, rows_1), (header_2, rows_2) = body(first), body(second)
    assert rows_1 == rows_2
    assert header_1["revision"] == header_2["revision"] and header_1["format"] == "wb-cyber-academy-backup"
    user_columns = json.loads(next(line for line in rows_1 if line.startswith('{"table":"user"')))["columns"]
    rows = iter(rows_1[rows_1.index(next(line for line in rows_1 if line.startswith('{"table":"user"'))) + 1:])
    first_user = dict(zip(user_columns, json.loads(next(rows))))
    assert first_user["track"] == "diplomat" and "T" in first_user["created_at"]  # enum value, ISO date-time
    with target.app_context():
        db.engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty(app, data, tmp_path):
    path = tmp_path / "academy.jsonl.gz"
    backup(app, path)
    result = restore(app, path)
    assert result.exit_code == 1
    assert "The database is not empty (rows in " in result.output and "restore only into a new" in result.output


def test_restore_refuses_another_schema_revision(app, data, tmp_path):
    path = tmp_path / "academy.jsonl.gz"
    backup(app, path)
    target = migrated_target(f"sqlite:///{tmp_path / 'older.db'}")
    with target.app_context():
        downgrade(revision="-1")
    result = restore(target, path)
    assert result.exit_code == 1
    assert "The database is at revision" in result.output and "run `flask db upgrade`" in result.output
    with target.app_context():
        db.engine.dispose()


def test_a_cut_off_backup_restores_nothing(app, data, tmp_path):
    path, cut = tmp_path / "academy.jsonl.gz", tmp_path / "cut.jsonl.gz"
    backup(app, path)
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        kept = list(lines)[:-1]  # everything but the closing line: every row is there, the count is not
    with gzip.open(cut, "wt", encoding="utf-8") as out:
        out.writelines(kept)
    target = migrated_target(f"sqlite:///{tmp_path / 'cut.db'}")

    result = restore(target, cut)
    assert result.exit_code == 1 and "ends early" in result.output
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(path.read_bytes()[:-200])
    result = restore(target, damaged)
    assert result.exit_code == 1 and "damaged" in result.output
    with target.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Course)) == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(Institution)) == 0
        db.session.remove()
        db.engine.dispose()


def test_a_database_without_migration_history_is_not_backed_up(app, world, tmp_path):
    result = invoke(app, "backup", str(tmp_path / "none.jsonl.gz"))
    assert result.exit_code == 1 and "flask db stamp head" in result.output
    assert not (tmp_path / "none.jsonl.gz").exists() and not (tmp_path / "none.jsonl.gz.partial").exists()
