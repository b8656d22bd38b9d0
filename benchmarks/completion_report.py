"""Completion report for a large institution: time and SQL query count of the dashboard and of each format,
against a raw SQL export of the same rows (targets: CSV ≤ 3×, XLSX ≤ 5×, PDF ≤ 10× the raw export).

Builds (bulk inserts) an institution with N learners and 8 synthetic courses with enrolments, lesson progress, quiz
attempts and certificates in a temporary SQLite file, or in DATABASE_URL if it is set (use a throw-away database:
the tables are created and the rows are left there). Then it measures, through the Flask test client as a manager:
the dashboard's first page, the CSV (posted: the file comes back at once), the XLSX and the PDF (posted: a job makes
the file, run in the request here as in the tests, then its page and the download: what a manager waits for), and one
SELECT joining the same tables written to CSV with the csv module. Each round measures the raw export and then every
format, and each ratio is taken within its round: on a shared machine the load changes from minute to minute. The
query counts are those of one round, for this institution and for one of 50 learners: they do not grow with the
number of people. Usage:

    python benchmarks/completion_report.py [--learners 5000] [--runs 5]
"""
import argparse
import csv
import io
import os
import platform
import random
import re
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


def build(learners: int, seed: int = 5, published: bool = True):
    """The institution, its manager and N learners with realistic progress in courses of their own (published, or
    seen only by this institution's reports); returns (institution id, (manager id, session nonce), row counts)."""
    from academy.accounts.models import Role, Track, User, UserRole
    from academy.core.models import utcnow
    from academy.extensions import db
    from academy.organisations.models import Country, Institution, Sector
    from academy.learning.models import Certificate, Course, Enrolment, Lesson, LessonProgress, Module, QuizAttempt

    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    tag = secrets.token_hex(3)
    content = dict(content_hash="0" * 64, created_at=now, updated_at=now)
    course_ids = insert(Course, [dict(slug=f"bench-{tag}-c{c}", title=f"Benchmark course {c + 1}", summary="-",
                                      tracks=["cert"], published=published, position=c, **content)
                                 for c in range(COURSES)])
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
    parser.add_argument("--runs", type=int, default=5, help="rounds of every measurement (medians)")
    args = parser.parse_args()

    from academy import create_app
    from academy.extensions import db
    from academy.organisations.services import ensure_countries

    load = os.getloadavg()[0]
    workdir = tempfile.TemporaryDirectory(prefix="academy-bench-")
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(workdir.name) / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "benchmark", "RATELIMIT_ENABLED": False,
                      "TABLETOP_TICKER": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                      "WTF_CSRF_ENABLED": False, "JOBS_QUEUE": "memory", "JOBS_IMMEDIATE": True})
    started = time.perf_counter()
    with app.app_context():
        db.create_all()
        ensure_countries()
        db.session.commit()
        large, large_manager, counts = build(args.learners)
        small, small_manager, _small_counts = build(50, seed=6, published=False)
    print(f"Built {args.learners} learners, {COURSES} courses × {MODULES} modules × {LESSONS} lessons: "
          f"{counts['enrolment']} enrolments, {counts['progress']} lesson-progress rows, {counts['attempt']} quiz "
          f"attempts, {counts['certificate']} certificates in {time.perf_counter() - started:.1f} s "
          f"(and an institution of 50 learners for the query counts).\n")
    large_actions, small_actions = actions(app, large, large_manager), actions(app, small, small_manager)
    names = list(large_actions)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for _round in range(args.runs):
        for name in names:
            elapsed, queries, body = measure(app, large_actions[name])
            seconds[name].append(elapsed)
            if name == names[0]:
                raw_seconds = elapsed
            ratios[name].append(elapsed / raw_seconds)
            sizes[name], large_queries[name] = len(body), queries
    small_queries = {name: measure(app, small_actions[name])[1] for name in names}
    print_table(names, seconds, ratios, large_queries, small_queries, args, db_url, load)
    workdir.cleanup()


sizes: dict[str, int] = {}
large_queries: dict[str, int] = {}
TARGETS = {"CSV": 3, "XLSX": 5, "PDF": 10}
# A job writes its progress about twice a second while it runs: how many times depends on the clock, not on the rows.
PROGRESS = "UPDATE background_job SET progress"


def actions(app, institution_id: int, manager) -> dict:
    """What each line of the table does, through the test client as the institution's manager."""
    from academy.core.models import utcnow

    manager_id, nonce = manager
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = f"{manager_id}:{nonce}", True
    today = utcnow().date()
    period = {"from": str(today - timedelta(days=365)), "to": str(today)}
    base = f"/institutions/{institution_id}"
    rounds = iter(range(1, 10**6))

    def dashboard():
        app.extensions.pop("dashboard_figures", None)  # the dashboard keeps its figures: measure computing them
        response = client.get(f"{base}/dashboard?from={period['from']}&to={period['to']}")
        assert response.status_code == 200, response.status_code
        return response.data

    def report(fmt):
        def action():
            # Each round a period a day longer: the same request again within a minute would get the same file.
            start = str(today - timedelta(days=365 + next(rounds)))
            response = client.post(f"{base}/reports/completion", data={"from": start, "to": period["to"],
                                                                        "format": fmt})
            if fmt != "csv":  # the job's page (the job ran in the request, as JOBS_IMMEDIATE does), then the file
                assert response.status_code == 303, response.status_code
                page = client.get(response.headers["Location"]).get_data(as_text=True)
                response = client.get(re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1))
            assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
            return response.data
        return action

    return {"raw SQL export (1 SELECT → csv)": lambda: raw_export(institution_id), "dashboard, first page": dashboard,
            "CSV": report("csv"), "XLSX": report("xlsx"), "PDF": report("pdf")}


def measure(app, action):
    """(seconds, SQL statements, result) of one run of `action` in a fresh app context."""
    from sqlalchemy import event

    from academy.extensions import db

    with app.app_context():
        statements = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            if not statement.startswith(PROGRESS):
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", listener)
        started = time.perf_counter()
        try:
            result = action()
        finally:
            elapsed = time.perf_counter() - started
            event.remove(db.engine, "before_cursor_execute", listener)
    return elapsed, len(statements), result


def print_table(names, seconds, ratios, large, small, args, db_url: str, load: float) -> None:
    print(f"{args.learners} learners; {args.runs} rounds; medians; × raw: the ratio to the raw export of the same "
          "round")
    print(f"{'what':<32} {'median s':>9} {'min s':>7} {'× raw':>6} {'target':>7} {'queries':>8} "
          f"{'(50 l.)':>8} {'output':>10}")
    print("-" * 94)
    for name in names:
        ratio = statistics.median(ratios[name])
        target = TARGETS.get(name)
        verdict = "" if target is None else f"≤ {target}× {'ok' if ratio <= target else 'MISSED'}"
        print(f"{name:<32} {statistics.median(seconds[name]):>9.3f} {min(seconds[name]):>7.3f} {ratio:>6.1f} "
              f"{verdict:>7} {large[name]:>8} {small[name]:>8} {sizes[name] / 1024:>8,.0f} KiB")
    database = db_url.split(":", 1)[0]
    print(f"\nMachine: {platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
          f"database: {database}" + (f" (SQLite {sqlite3.sqlite_version})" if database.startswith("sqlite") else "")
          + f"; load average before the run {load:.1f}")
    print("Queries include the requests' own (signed-in user, audit event, commit) and, for XLSX and PDF, the job's "
          "(claim, file) and those of its page and the download; not the job's progress updates (about two a second "
          "while it runs).")


if __name__ == "__main__":
    main()
