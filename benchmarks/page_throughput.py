"""Page throughput: requests per second and p50/p99 latency of a signed-in lesson page and of the manager dashboard,
each as a share of a bare endpoint of the same app (GET /healthz) under the same server settings.

Starts the academy under gunicorn (gevent worker class, as in production: ACADEMY_ENV=production) on a temporary SQLite
database holding the real courses/ and exercises/, an institution with a manager and a staff of learners with
progress, and one enrolled learner per client. Then, for 1 and for 2 workers, N concurrent keep-alive clients (one
asyncio task each, written here so it runs anywhere) request each endpoint for the given seconds after a warm-up.
BENCH_DATABASE_URL runs it on another database instead (a throw-away one: its tables are dropped and made again).
On a machine shared with other work, --rounds 3 measures the endpoints back to back three times and prints the medians
(each page's ratio is taken against the bare endpoint of its own round).
Usage:

    python benchmarks/page_throughput.py [--clients 20] [--seconds 10] [--workers 1 2] [--staff 60] [--rounds 1]
"""
import argparse
import asyncio
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "benchmark-secret-key"
USER_AGENT = "academy-benchmark/1"
COURSE = "foundations-and-legal-environment"
TARGET_RATIO = 0.2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(database_url: str, clients: int, staff: int) -> dict:
    """The real content, an institution with a manager and `staff` learners with progress, and one enrolled learner
    per client; returns the paths to request and the signed-in session cookies."""
    os.environ.update(DATABASE_URL=database_url, SECRET_KEY=SECRET)
    os.environ.pop("REDIS_URL", None)  # these pages need no Redis: every run measures the same server
    from academy import create_app
    from academy.extensions import db
    from academy.institutions.services import ensure_countries
    from academy.learning import services
    from academy.learning.models import Course, Module
    from academy.learning.sync import sync_content
    from academy.tabletop.scenario_sync import sync_scenarios

    app = create_app({"TABLETOP_TICKER": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_countries()
        sync_content(ROOT / "courses")
        sync_scenarios(ROOT / "exercises", set(db.session.scalars(db.select(Module.slug))))
        course = db.session.scalar(db.select(Course).where(Course.slug == COURSE))
        institution, manager, learners = _people(clients, staff)
        rng = random.Random(6)
        courses = services.published_courses()
        for person in learners:
            for taken in rng.sample(courses, rng.randint(0, 3)):
                enrolment = services.enrol(person, taken)
                for lesson in services.course_lessons(taken)[:rng.randint(0, 6)]:
                    services.mark_done(person, enrolment, lesson)
        readers = learners[:clients]
        for person in readers:
            services.enrol(person, course)
        db.session.commit()
        lessons = [f"/courses/{course.slug}/lessons/{lesson.slug}" for lesson in services.course_lessons(course)]
        return {"lessons": lessons, "dashboard": f"/institutions/{institution.id}/dashboard",
                "learner_cookies": [_cookie(app, person) for person in readers],
                "manager_cookie": _cookie(app, manager)}


def _people(clients: int, staff: int):
    from academy.accounts.models import Role, Track
    from academy.accounts.services import create_user
    from academy.extensions import db
    from academy.institutions.models import Country, Sector
    from academy.institutions.services import create_institution

    country = db.session.scalar(db.select(Country).where(Country.code == "ME"))
    institution = create_institution(name="Benchmark Ministry", country=country, sector=Sector.MINISTRY)
    password = "page throughput measurement 2026"
    manager = create_user(email="manager@bench.example", name="Bench Manager", password=password,
                          institution=institution, track=Track.POLICY, roles=(Role.MANAGER, Role.LEARNER))
    tracks = list(Track)
    learners = [create_user(email=f"learner{n}@bench.example", name=f"Learner {n:03d}", password=password,
                            institution=institution, track=tracks[n % len(tracks)])
                for n in range(max(clients, staff))]
    return institution, manager, learners


def _cookie(app, user) -> str:
    """The session cookie a browser holds after signing in from this client and opening a page with a form
    (Flask-Login's identifier and the CSRF token included, so no response needs to set a new cookie)."""
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    # A context of its own: the CSRF token is kept in `g` for the context's lifetime, so a shared one would give the
    # first person's token to everyone else and leave it out of their sessions.
    with app.app_context(), app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                                     headers={"User-Agent": USER_AGENT}):
        login_user(user)
        generate_csrf()
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


def start_server(database_url: str, port: int, workers: int) -> subprocess.Popen:
    """gunicorn as the README's production start, on a loopback port; waits until /healthz answers."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET, "ACADEMY_ENV": "production"}
    command = [str(Path(sys.executable).parent / "gunicorn"), "--worker-class", "gevent", "--workers", str(workers),
               "--worker-connections", "1000", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
               "--timeout", "120", "--graceful-timeout", "2", "wsgi:app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError("the server did not start")


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


class Tally:
    def __init__(self):
        self.latencies: list[float] = []
        self.errors: dict[int, int] = {}


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; (status, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers.get("connection", "").lower() != "close"


async def client(port: int, paths: list[str], cookie: str | None, until: float, tally: Tally | None) -> None:
    """One user: request the paths in turn over one keep-alive connection (reopened if the server closes it)."""
    extra = f"Cookie: session={cookie}\r\n" if cookie else ""
    requests = [(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {USER_AGENT}\r\n"
                 f"Accept: text/html,application/json\r\n{extra}\r\n").encode() for path in paths]
    reader = writer = None
    n = 0
    while time.perf_counter() < until:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        writer.write(requests[n % len(requests)])
        n += 1
        status, keep = await read_response(reader)
        if tally is not None:
            tally.latencies.append(time.perf_counter() - started)
            if status != 200:
                tally.errors[status] = tally.errors.get(status, 0) + 1
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def load(port: int, plan: list[tuple[list[str], str | None]], seconds: float, warmup: float) -> dict:
    """Warm up, then measure: every client of `plan` runs for `seconds`."""
    until = time.perf_counter() + warmup
    await asyncio.gather(*(client(port, paths, cookie, until, None) for paths, cookie in plan))
    tally = Tally()
    started = time.perf_counter()
    await asyncio.gather(*(client(port, paths, cookie, started + seconds, tally) for paths, cookie in plan))
    elapsed = time.perf_counter() - started
    ordered = sorted(tally.latencies)
    return {"requests": len(ordered), "rps": len(ordered) / elapsed, "p50": percentile(ordered, 0.50) * 1000,
            "p99": percentile(ordered, 0.99) * 1000, "errors": tally.errors}


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def plans(data: dict, clients: int) -> list[tuple[str, list]]:
    """Per endpoint, what each client requests: every learner reads the course's lessons in turn from their own."""
    lessons = data["lessons"]
    return [
        ("GET /healthz (bare endpoint)", [(["/healthz"], None)] * clients),
        ("lesson page, signed in", [(lessons[n % len(lessons):] + lessons[:n % len(lessons)], cookie)
                                    for n, cookie in enumerate(data["learner_cookies"])]),
        ("manager dashboard", [([data["dashboard"]], data["manager_cookie"])] * clients),
    ]


def machine(database: str, busy: float) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from importlib.metadata import version

    return (f"Machine: {platform.platform()}; {cpu}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
            f"gunicorn {version('gunicorn')} (gevent {version('gevent')} worker); {database} database; "
            f"client and server on the same machine; load average before the run {busy:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first (default 2)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="gunicorn workers (default 1 2)")
    parser.add_argument("--staff", type=int, default=60, help="learners of the dashboard's institution (default 60)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every endpoint this many times back to back and print medians (default 1)")
    args = parser.parse_args()

    busy = os.getloadavg()[0]  # other work on the machine takes CPU from client and server
    folder = tempfile.mkdtemp(prefix="academy-bench-")
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.db"
    rows = []
    try:
        data = prepare(database_url, args.clients, args.staff)
        for workers in args.workers:
            port = free_port()
            server = start_server(database_url, port, workers)
            try:
                rounds = [[(name, asyncio.run(load(port, plan, args.seconds, args.warmup)))
                           for name, plan in plans(data, args.clients)] for _ in range(args.rounds)]
                rows += [(workers, name, result) for name, result in medians(rounds)]
            finally:
                stop_server(server)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print_table(rows, args, "SQLite" if database_url.startswith("sqlite") else "PostgreSQL", busy)


def medians(rounds: list[list[tuple[str, dict]]]) -> list[tuple[str, dict]]:
    """Per endpoint, the median of each figure over the rounds; the ratio is to the first endpoint of the same round."""
    bare = [measured[0][1]["rps"] for measured in rounds]
    summary = []
    for index, (name, _result) in enumerate(rounds[0]):
        results = [measured[index][1] for measured in rounds]
        ratios = [result["rps"] / rps for result, rps in zip(results, bare)]
        errors: dict[int, int] = {}
        for result in results:
            for status, n in result["errors"].items():
                errors[status] = errors.get(status, 0) + n
        summary.append((name, {**{key: statistics.median(r[key] for r in results)
                                  for key in ("requests", "rps", "p50", "p99")},
                               "errors": errors, "ratio": statistics.median(ratios)}))
    return summary


def print_table(rows, args, database: str, busy: float) -> None:
    rounds = f"; medians of {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"{args.clients} concurrent keep-alive clients, {args.seconds:g} s per endpoint after {args.warmup:g} s "
          f"of warm-up{rounds}; dashboard of an institution with {max(args.clients, args.staff)} learners; "
          f"target: ratio ≥ {TARGET_RATIO}\n")
    print(f"{'endpoint':<30} {'workers':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'ratio':>6}")
    print("-" * 89)
    for workers, name, result in rows:
        errors = sum(result["errors"].values())
        print(f"{name:<30} {workers:>7} {result['requests']:>8.0f} {result['rps']:>8.0f} {result['p50']:>8.1f} "
              f"{result['p99']:>8.1f} {errors:>6} {result['ratio']:>6.2f}")
    print(f"\n{machine(database, busy)}")
    bad = {status: n for *_rest, result in rows for status, n in result["errors"].items()}
    if bad:
        print(f"Non-200 answers by status: {bad}")


if __name__ == "__main__":
    main()
