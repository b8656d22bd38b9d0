"""Completion report for a large institution: time and SQL query count of the dashboard and of each format,
against a raw SQL export of the same rows.

Builds (bulk inserts) an institution with N learners and 8 synthetic courses with enrolments, lesson progress, quiz
attempts and certificates in a temporary SQLite file, or in DATABASE_URL if it is set (use a throw-away database:
the tables are created and the rows are left there). Then it measures, through the Flask test client as a manager:
the dashboard's first page, the CSV, the XLSX and the PDF; and one SELECT joining the same tables written to CSV with
the csv module. Usage:

    python benchmarks/completion_report.py [--learners 5000] [--runs 3] [--pdf-runs 1]
"""
import argparse
import csv
import io
import os
import platform
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COURSES, MODULES, LESSONS = 8, 4, 3  # per course, per module
RAW_EXPORT = """
SELECT u.name, u.email, u.track, u.active, c.slug, c.title, e.created_at, e.completed_at,
       COALESCE(lp.done, 0), COALESCE(qa.passed, 0), qa.best, cert.code
FROM enrolment e
JOIN "user" u ON u.id = e.user_id
JOIN course c ON c.id = e.course_id
LEFT JOIN (SELECT lp.user_id, m.course_id, COUNT(*) AS done
           FROM lesson_progress lp JOIN lesson l ON l.id = lp.lesson_id JOIN module m ON m.id = l.module_id
           WHERE lp.done_at IS NOT NULL GROUP BY lp.user_id, m.course_id) lp
       ON lp.user_id = e.user_id AND lp.course_id = e.course_id
LEFT JOIN (SELECT qa.user_id, m.course_id, COUNT(DISTINCT CASE WHEN qa.passed THEN qa.module_id END) AS passed,
                  MAX(qa.score) AS best
           FROM quiz_attempt qa JOIN module m ON m.id = qa.module_id
           WHERE qa.submitted_at IS NOT NULL GROUP BY qa.user_id, m.course_id) qa
       ON qa.user_id = e.user_id AND qa.course_id = e.course_id
LEFT JOIN certificate cert ON cert.user_id = e.user_id AND cert.course_id = e.course_id AND cert.revoked_at IS NULL
WHERE u.institution_id = :institution
ORDER BY u.name, c.slug
"""


def insert(model, rows: list[dict]) -> list[int]:
    """Bulk insert; the new ids in the order of the rows."""
    from academy.extensions import db

    if not rows:
        return []
    statement = db.insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(db.session.scalars(statement, rows))


def build(learners: int, seed: int = 5):
    """The institution, its manager and N learners with realistic progress; returns (institution id, manager)."""
    from academy.accounts.models import Role, Track, User, UserRole
    from academy.core.models import utcnow
    from academy.extensions import db
    from academy.institutions.models import Country, Institution, Sector
    from academy.learning.models import Certificate, Course, Enrolment, Lesson, LessonProgress, Module, QuizAttempt

    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    tag = secrets.token_hex(3)
    content = dict(content_hash="0" * 64, created_at=now, updated_at=now)
    course_ids = insert(Course, [dict(slug=f"bench-{tag}-c{c}", title=f"Benchmark course {c + 1}", summary="-",
                                      tracks=["cert"], published=True, position=c, **content) for c in range(COURSES)])
    structure = {}
    for course_id in course_ids:
        module_ids = insert(Module, [dict(slug=f"bench-{tag}-c{course_id}-m{m}", course_id=course_id, title=f"M{m}",
                                          summary="-", pass_mark=70, questions_per_attempt=8, max_attempts=0,
                                          position=m, **content) for m in range(MODULES)])
        structure[course_id] = [(module_id, insert(Lesson, [dict(
            slug=f"bench-{tag}-m{module_id}-l{n}", module_id=module_id, title=f"L{n}", sections=["§1"], minutes=5,
            body_markdown="-", body_html="<p>-</p>", position=n, **content) for n in range(LESSONS)]))
            for module_id in module_ids]
    country = db.session.scalar(db.select(Country).where(Country.code == "RS"))
    institution = Institution(name=f"Benchmark CSIRT {tag}", country=country, sector=Sector.CERT,
                              invitation_code=secrets.token_hex(8).upper())
    db.session.add(institution)
    db.session.flush()
    tracks = list(Track)
    people = [dict(email=f"learner{n}.{tag}@bench.example", name=f"Learner {n:05d}", password_hash="x",
                   institution_id=institution.id, track=rng.choice(tracks), active=rng.random() > 0.02,
                   session_nonce=secrets.token_hex(8), created_at=now,
                   last_login_at=now - timedelta(days=rng.randint(0, 400)) if rng.random() < 0.9 else None)
              for n in range(learners)]
    manager_nonce = secrets.token_hex(8)
    people.append(dict(email=f"manager.{tag}@bench.example", name="Bench Manager", password_hash="x",
                       institution_id=institution.id, track=Track.CERT, active=True, session_nonce=manager_nonce,
                       created_at=now, last_login_at=now))
    user_ids = insert(User, people)
    manager_id = user_ids[-1]
    db.session.execute(db.insert(UserRole), [dict(user_id=manager_id, role=Role.MANAGER),
                                             *(dict(user_id=u, role=Role.LEARNER) for u in user_ids)])
    rows = {"enrolment": [], "progress": [], "attempt": [], "certificate": []}
    for user_id in user_ids[:-1]:
        for course_id in rng.sample(course_ids, rng.randint(0, 5)):
            _learner_in_course(rng, now, user_id, course_id, structure[course_id], rows)
    insert(Enrolment, rows["enrolment"])
    for start in range(0, len(rows["progress"]), 20000):
        db.session.execute(db.insert(LessonProgress), rows["progress"][start:start + 20000])
    for start in range(0, len(rows["attempt"]), 20000):
        db.session.execute(db.insert(QuizAttempt), rows["attempt"][start:start + 20000])
    db.session.execute(db.insert(Certificate), rows["certificate"])
    db.session.commit()
    counts = {name: len(value) for name, value in rows.items()}
    return institution.id, (manager_id, manager_nonce), counts


def _learner_in_course(rng, now, user_id, course_id, modules, rows) -> None:
    """One enrolment: not started (25 %), part-way (40 %) or complete (35 %), with attempts and a certificate."""
    enrolled = now - timedelta(days=rng.randint(30, 540))
    state = rng.random()
    reached = 0 if state < 0.25 else (len(modules) if state >= 0.60 else rng.randint(1, len(modules) - 1))
    moment = enrolled
    for index, (module_id, lesson_ids) in enumerate(modules[:reached] if reached else []):
        for lesson_id in lesson_ids:
            moment = min(now, moment + timedelta(hours=rng.randint(1, 72)))
            rows["progress"].append(dict(user_id=user_id, lesson_id=lesson_id, viewed_at=moment, done_at=moment))
        tries = rng.randint(1, 3)
        for number in range(1, tries + 1):
            must_pass = number == tries and (state >= 0.60 or index < reached - 1)
            score = rng.randint(70, 100) if must_pass else rng.randint(20, 69)
            moment = min(now, moment + timedelta(hours=rng.randint(1, 48)))
            rows["attempt"].append(dict(user_id=user_id, module_id=module_id, number=number, started_at=moment,
                                        submitted_at=moment, paper=[], answers={}, correct=score * 8 // 100,
                                        total=8, score=score, passed=score >= 70))
    completed = moment if state >= 0.60 else None
    rows["enrolment"].append(dict(user_id=user_id, course_id=course_id, created_at=enrolled,
                                  last_activity_at=moment, completed_at=completed))
    if completed:
        revoked = completed + timedelta(days=1) if rng.random() < 0.03 else None
        rows["certificate"].append(dict(code=secrets.token_hex(7).upper(), user_id=user_id, course_id=course_id,
                                        holder_name="-", course_title="-", issued_at=completed, revoked_at=revoked))


def measure(app, action, runs: int):
    """(median seconds, SQL statements of one run, last result) over `runs` runs, each in a fresh app context."""
    from sqlalchemy import event

    from academy.extensions import db

    times, counts, result = [], [], None
    for _ in range(runs):
        with app.app_context():
            statements = []

            def listener(conn, cursor, statement, parameters, context, executemany):
                statements.append(statement)

            event.listen(db.engine, "before_cursor_execute", listener)
            started = time.perf_counter()
            try:
                result = action()
            finally:
                elapsed = time.perf_counter() - started
                event.remove(db.engine, "before_cursor_execute", listener)
            times.append(elapsed)
            counts.append(len(statements))
    return statistics.median(times), counts[-1], result


def raw_export(institution_id: int) -> bytes:
    from academy.extensions import db

    out = io.StringIO()
    writer = csv.writer(out)
    result = db.session.execute(db.text(RAW_EXPORT), {"institution": institution_id})
    writer.writerow(result.keys())
    writer.writerows(result)
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement except the PDF (median)")
    parser.add_argument("--pdf-runs", type=int, default=1, help="runs of the PDF (median)")
    args = parser.parse_args()

    from academy import create_app
    from academy.core.models import utcnow
    from academy.extensions import db
    from academy.institutions.services import ensure_countries

    workdir = tempfile.TemporaryDirectory(prefix="academy-bench-")
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(workdir.name) / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "benchmark", "RATELIMIT_ENABLED": False,
                      "TABLETOP_TICKER": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    started = time.perf_counter()
    with app.app_context():
        db.create_all()
        ensure_countries()
        db.session.commit()
        institution_id, (manager_id, nonce), counts = build(args.learners)
    print(f"Built {args.learners} learners, {COURSES} courses × {MODULES} modules × {LESSONS} lessons: "
          f"{counts['enrolment']} enrolments, {counts['progress']} lesson-progress rows, {counts['attempt']} quiz "
          f"attempts, {counts['certificate']} certificates in {time.perf_counter() - started:.1f} s.\n")

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = f"{manager_id}:{nonce}", True
    today = utcnow().date()
    period = f"from={today - timedelta(days=365)}&to={today}"
    base = f"/institutions/{institution_id}"

    def get(url):
        def action():
            app.extensions.pop("dashboard_figures", None)  # the dashboard keeps its figures: measure computing them
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response.data
        return action

    raw = measure(app, lambda: raw_export(institution_id), args.runs)
    results = [("raw SQL export (1 SELECT → csv)", args.runs, raw)]
    for name, url, runs in (("dashboard, first page", f"{base}/dashboard?{period}", args.runs),
                            ("CSV", f"{base}/reports/completion?format=csv&{period}", args.runs),
                            ("XLSX", f"{base}/reports/completion?format=xlsx&{period}", args.runs),
                            ("PDF", f"{base}/reports/completion?format=pdf&{period}", args.pdf_runs)):
        results.append((name, runs, measure(app, get(url), runs)))
    print_table(results, raw[0], db_url)
    workdir.cleanup()


def print_table(results, raw_seconds: float, db_url: str) -> None:
    print(f"{'what':<34} {'runs':>4} {'median s':>9} {'SQL queries':>11} {'× raw':>7} {'output':>10}")
    print("-" * 80)
    for name, runs, (seconds, queries, body) in results:
        size = f"{len(body) / 1024:,.0f} KiB"
        print(f"{name:<34} {runs:>4} {seconds:>9.3f} {queries:>11} {seconds / raw_seconds:>7.1f} {size:>10}")
    database = db_url.split(":", 1)[0]
    print(f"\nMachine: {platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
          f"database: {database}" + (f" (SQLite {sqlite3.sqlite_version})" if database.startswith("sqlite") else ""))
    print("Queries of a page or download include the request's own (signed-in user, audit event, commit).")


if __name__ == "__main__":
    main()
