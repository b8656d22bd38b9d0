"""Page throughput against a real load generator: the academy's pages as a share of a one-line Flask app.

Starts the academy under gunicorn as the README's production start (deploy/gunicorn.conf.py: gevent worker class, 1000
connections a worker, the application loaded before the fork; ACADEMY_ENV=production) on a temporary SQLite database
holding the real courses/ and exercises/, an institution with a manager and a staff of learners with progress; and
beside it benchmarks/oneline_app.py under the very same gunicorn settings, the ceiling. Learners and the manager sign in
through the sign-in form like a browser (and open a page, which puts a CSRF token in their session); their session
cookies go to wrk in a Cookie header, with the User-Agent they signed in with. Then, in each round, wrk (-t2 -c32, 15 s)
loads one after the other:

    the one-line app        GET /, "Hello, World!"
    /healthz                the academy's bare endpoint (one SELECT 1, a committed write at most every 5 s)
    lesson page             32 signed-in learners, each reading their own lesson of a course again
    lesson page, moving on  the same learners, each request another lesson (records where they are: a write)
    course page             the same learners on the course's page (modules, lessons, their progress)
    manager dashboard       the institution's dashboard (completion figures of 60 learners)

Every figure is the median over the rounds, and every ratio is a page's requests per second over the one-line app's
in the same round, which keeps the ratios steady on a machine shared with other work. Beside it, the servers' CPU
time per request (their processes' user and system time over the requests answered) and its ratio, the one-line
app's over the page's: what the ratio would be with the CPUs to the server alone, and steadier still on a busy
machine. Before the load, every request is made once and must answer 200; the table says how many answers set a
cookie (none should: a page that signs the session again on every view pays for it). Last, hey offers the lesson
page a fixed rate (300 requests per second from 30 clients for 15 s) and reports p50, p99, the slowest answer and how
many took over a second. wrk and hey are Debian packages: `make bench-deps` installs them. BENCH_DATABASE_URL runs
it on another database (a throw-away one: its tables are dropped and made again).

    python benchmarks/page_throughput.py [--workers 2] [--rounds 3] [--seconds 15] [--connections 32]
"""
import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlencode

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "benchmark-secret-key"
PASSWORD = "page throughput measurement 2026"
USER_AGENT = "academy-benchmark/1"  # a session is bound to its browser (Flask-Login): wrk sends this one too
COURSE = "foundations-and-legal-environment"
ONELINE = "one-line Flask app"
# Requests per second as a share of the one-line app's (the acceptance line).
TARGETS = {"lesson page": 0.15, "course page": 0.12, "manager dashboard": 0.12}
P99_TARGET_MS, SLOW_MS = 100.0, 1000.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(database_url: str, readers: int, staff: int) -> dict:
    """The real content, an institution with a manager and `staff` learners with progress, of whom `readers` are
    enrolled in one course; returns their e-mail addresses and the paths to request."""
    import random

    os.environ.update(DATABASE_URL=database_url, SECRET_KEY=SECRET)
    from academy import create_app
    from academy.extensions import db
    from academy.learning import services
    from academy.organisations.services import ensure_countries

    app = create_app({"TABLETOP_TICKER": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_countries()
        db.session.commit()
        synced = app.test_cli_runner().invoke(args=["content", "sync"])
        if synced.exit_code != 0:
            raise RuntimeError(f"content sync failed:\n{synced.output}") from synced.exception
        institution, manager, learners = _people(max(readers, staff))
        rng = random.Random(6)
        courses = services.published_courses()
        for person in learners:
            for taken in rng.sample(courses, rng.randint(0, 3)):
                enrolment = services.enrol(person, taken)
                for lesson in services.course_lessons(taken)[:rng.randint(0, 6)]:
                    services.mark_done(person, enrolment, lesson)
        course = services.load_course(COURSE)
        for person in learners[:readers]:
            services.enrol(person, course)
        db.session.commit()
        lessons = services.course_lessons(course)
        return {"course": f"/courses/{course.slug}",
                "lessons": [f"/courses/{course.slug}/lessons/{lesson.slug}" for lesson in lessons],
                "dashboard": f"/institutions/{institution.id}/dashboard",
                "readers": [person.email for person in learners[:readers]], "manager": manager.email}


def _people(count: int):
    from academy.accounts.models import Role, Track
    from academy.accounts.services import create_user
    from academy.extensions import db
    from academy.organisations.models import Country, Sector
    from academy.organisations.services import create_institution

    country = db.session.scalar(db.select(Country).where(Country.code == "ME"))
    institution = create_institution(name="Benchmark Ministry", country=country, sector=Sector.MINISTRY)
    manager = create_user(email="manager@bench.example", name="Bench Manager", password=PASSWORD,
                          institution=institution, track=Track.POLICY, roles=(Role.MANAGER, Role.LEARNER))
    tracks = list(Track)
    learners = [create_user(email=f"learner{n}@bench.example", name=f"Learner {n:03d}", password=PASSWORD,
                            institution=institution, track=tracks[n % len(tracks)]) for n in range(count)]
    return institution, manager, learners


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    pairs = (header.split(";", 1)[0].split("=", 1) for header in response.headers.get_all("Set-Cookie") or [])
    return {name.strip(): value for name, value in pairs}


def sign_in(port: int, email: str, user_agent: str) -> str:
    """Sign in through the form as a browser does (GET for the CSRF token, POST, a page); the session cookie's value."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/account/login", headers={"User-Agent": user_agent})
        response = connection.getresponse()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)" name="csrf_token"',
                          response.read().decode())
        cookie = _cookies(response)["session"]
        form = urlencode({"csrf_token": token.group(1) or token.group(2), "email": email, "password": PASSWORD})
        connection.request("POST", "/account/login", body=form, headers={
            "User-Agent": user_agent, "Cookie": f"session={cookie}",
            "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        if response.status != 302:
            raise RuntimeError(f"signing in {email} answered {response.status}")
        cookie = _cookies(response)["session"]
        # A browser then opens a page with a form, whose CSRF token goes into the session (a new cookie, kept).
        connection.request("GET", "/account/", headers={"User-Agent": user_agent, "Cookie": f"session={cookie}"})
        response = connection.getresponse()
        response.read()
        return _cookies(response).get("session", cookie)
    finally:
        connection.close()


def check(port: int, path: str, cookie: str | None, user_agent: str) -> bool:
    """Each request once before the load: it must answer 200 (not a redirect to sign in). True if the response sets
    a cookie (a session signed again for every page)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"User-Agent": user_agent, **({"Cookie": f"session={cookie}"} if cookie else {})}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return bool(response.headers.get_all("Set-Cookie"))


def start_server(app: str, port: int, workers: int, env: dict, chdir: Path) -> subprocess.Popen:
    """gunicorn as the README's production start, on a loopback port; waits until GET `probe` answers."""
    command = [str(Path(sys.executable).parent / "gunicorn"), *gunicorn_settings(workers), "--bind",
               f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120", "--graceful-timeout", "2",
               "--chdir", str(chdir), app]
    server = subprocess.Popen(command, cwd=chdir, env=env, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"gunicorn {app} did not start")


def gunicorn_settings(workers: int) -> list[str]:
    return ["-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--workers", str(workers)]


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


# Requests in turn from one list, each wrk thread starting at its own place in it; done() prints the figures.
WRK_SCRIPT = """
local items = %s
local requests, n, threads = {}, 0, 0
function setup(thread)
  thread:set("start", threads)
  threads = threads + 1
end
function init(args)
  for i, item in ipairs(items) do
    local headers = {["User-Agent"] = "%s"}
    if item[2] ~= "" then headers["Cookie"] = "session=" .. item[2] end
    requests[i] = wrk.format("GET", item[1], headers)
  end
  n = (start * math.floor(#requests / %d)) %% #requests
end
function request()
  n = n %% #requests + 1
  return requests[n]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.timeout, e.connect + e.read + e.write))
end
"""


def server_cpu(server: subprocess.Popen) -> float:
    """CPU seconds used so far by a gunicorn server's workers (and its master)."""
    master = psutil.Process(server.pid)
    return sum(sum(process.cpu_times()[:2]) for process in [master, *master.children(recursive=True)])


def run_wrk(port: int, items: list[tuple[str, str]], seconds: float, args, folder: str,
            server: subprocess.Popen | None = None) -> dict:
    """wrk over `items` ((path, session cookie or ""), requested in turn); requests per second, p50, p99, errors, and
    the server's CPU time per request (what the machine's other work cannot change much)."""
    script = Path(folder) / "requests.lua"
    script.write_text(WRK_SCRIPT % ("{" + ", ".join(f"{{{json.dumps(path)}, {json.dumps(cookie)}}}"
                                                     for path, cookie in items) + "}", USER_AGENT, args.threads))
    busy = server_cpu(server) if server else 0.0
    output = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s", "--timeout",
                             "10s", "-s", str(script), f"http://127.0.0.1:{port}/"],
                            capture_output=True, text=True, check=True).stdout
    requests, duration, p50, p99, *errors = (int(n) for n in output.split("RESULT ", 1)[1].split())
    cpu = (server_cpu(server) - busy) / max(requests, 1) * 1e6 if server else float("nan")
    return {"rps": requests / (duration / 1e6), "p50": p50 / 1000, "p99": p99 / 1000, "cpu": cpu,
            "errors": dict(zip(("non-2xx/3xx answers", "timeouts (10 s)", "socket errors"), errors, strict=True))}


def hey_user_agent() -> str:
    """The User-Agent hey sends (this hey ignores -H "User-Agent: ..."): its learner signs in with it."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("User-Agent", ""))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        subprocess.run(["hey", "-n", "1", "-c", "1", f"http://127.0.0.1:{server.server_port}/"],
                       capture_output=True, check=True)
    finally:
        server.shutdown()
        server.server_close()
    return seen[0]


def run_hey(port: int, path: str, cookie: str, args) -> dict:
    """hey at a fixed offered rate: `rate` requests per second from 30 clients for `rate_seconds`."""
    clients = 30
    output = subprocess.run(["hey", "-z", f"{args.rate_seconds:g}s", "-c", str(clients), "-q",
                             f"{args.rate / clients:g}", "-t", "30", "-disable-redirects", "-o", "csv",
                             "-H", f"Cookie: session={cookie}", f"http://127.0.0.1:{port}{path}"],
                            capture_output=True, text=True, check=True).stdout
    rows = [line.split(",") for line in output.splitlines()[1:] if line]
    times = sorted(float(row[0]) * 1000 for row in rows)
    return {"requests": len(times), "rate": len(times) / args.rate_seconds, "p50": percentile(times, 0.50),
            "p99": percentile(times, 0.99), "max": times[-1] if times else float("nan"),
            "slow": sum(t > SLOW_MS for t in times), "errors": sum(row[6] != "200" for row in rows)}


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def plans(data: dict, cookies: list[str], manager: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(name, server, requests in turn): each learner reads one lesson of the course; moving on, the learners'
    requests go through the lessons so that each of a learner's requests opens another lesson than their last."""
    lessons, count = data["lessons"], len(cookies)
    return [
        (ONELINE, "oneline", [("/", "")]),
        ("/healthz", "academy", [("/healthz", "")]),
        ("lesson page", "academy", [(lessons[n % len(lessons)], cookie) for n, cookie in enumerate(cookies)]),
        ("lesson page, moving on", "academy", [(lessons[(n + step) % len(lessons)], cookies[n])
                                               for step in range(len(lessons)) for n in range(count)]),
        ("course page", "academy", [(data["course"], cookie) for cookie in cookies]),
        ("manager dashboard", "academy", [(data["dashboard"], manager)]),
    ]


def measure(data: dict, workers: int, args, folder: str, database_url: str) -> tuple[list, dict, int]:
    """Both servers with `workers` workers; interleaved wrk rounds, then hey; (per round results, hey, cookie sets)."""
    ports = {"academy": free_port(), "oneline": free_port()}
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET, "ACADEMY_ENV": "production",
           "PUBLIC_URL": f"http://127.0.0.1:{ports['academy']}",
           # Every learner signs in from this one address: the sign-in throttle (20 a minute) would refuse most.
           "LOGIN_RATE_LIMIT": "1000 per minute"}
    env.pop("REDIS_URL", None)  # these pages need no Redis: every run measures the same server
    servers = {"academy": start_server("wsgi:app", ports["academy"], workers, env, ROOT),
               "oneline": start_server("oneline_app:app", ports["oneline"], workers, env, ROOT / "benchmarks")}
    try:
        port = ports["academy"]
        cookies = [sign_in(port, email, USER_AGENT) for email in data["readers"]]
        manager = sign_in(port, data["manager"], USER_AGENT)
        hey_agent = hey_user_agent()
        hey_cookie = sign_in(port, data["readers"][0], hey_agent)
        plan = plans(data, cookies, manager)
        refreshed = sum(check(ports[server], path, cookie, USER_AGENT)
                        for _name, server, items in plan for path, cookie in items)
        check(port, data["lessons"][0], hey_cookie, hey_agent)
        for _name, server, items in plan:  # warm-up: templates compiled, statements cached, connections open
            run_wrk(ports[server], items, args.warmup, args, folder)
        rounds = [{name: run_wrk(ports[server], items, args.seconds, args, folder, servers[server])
                   for name, server, items in plan} for _ in range(args.rounds)]
        fixed = run_hey(port, data["lessons"][0], hey_cookie, args)
    finally:
        for server in servers.values():
            stop_server(server)
    return rounds, fixed, refreshed


def medians(rounds: list[dict]) -> dict:
    """Per page, the median of each figure over the rounds; each ratio within its round."""
    return {name: {"rps": statistics.median(r[name]["rps"] for r in rounds),
                   "p50": statistics.median(r[name]["p50"] for r in rounds),
                   "p99": statistics.median(r[name]["p99"] for r in rounds),
                   "errors": {kind: sum(r[name]["errors"][kind] for r in rounds) for kind in rounds[0][name]["errors"]},
                   "ratio": statistics.median(r[name]["rps"] / r[ONELINE]["rps"] for r in rounds),
                   "cpu": statistics.median(r[name]["cpu"] for r in rounds),
                   "cpu_ratio": statistics.median(r[ONELINE]["cpu"] / r[name]["cpu"] for r in rounds)}
            for name in rounds[0]}


def machine(database: str, busy: float) -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(" [", 1)[0]
    return (f"Machine: {cpu}; {os.cpu_count()} CPUs; {platform.platform()}; Python {platform.python_version()}; "
            f"gunicorn {version('gunicorn')} -c deploy/gunicorn.conf.py (gevent {version('gevent')}, preloaded, "
            f"1000 connections a worker); Flask {version('flask')}; "
            f"{database} database; {wrk}; load generator and servers on the same machine; "
            f"load average before the run {busy:.1f}")


def print_tables(results: list, args, database: str, busy: float, staff: int) -> None:
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s after {args.warmup:g} s of warm-up, "
          f"{args.rounds} interleaved round(s), medians; {len(args.readers_list)} learners; dashboard of an "
          f"institution of {staff} learners. ratio: requests per second over the one-line app's in the same round; "
          f"CPU µs: the server's CPU time per request, and its ratio, the one-line app's over the page's (what the "
          f"ratio would be if the server had the CPUs to itself)\n")
    print(f"{'page':<24} {'workers':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'CPU µs':>7} "
          f"{'CPU ratio':>9} {'ratio':>6} {'target':>8}")
    print("-" * 98)
    for workers, summary, _fixed, refreshed in results:
        for name, result in summary.items():
            target = TARGETS.get(name)
            verdict = "" if target is None else f"≥{target:.2f} " + ("ok" if result["ratio"] >= target else "NO")
            print(f"{name:<24} {workers:>7} {result['rps']:>7.0f} {result['p50']:>7.1f} {result['p99']:>7.1f} "
                  f"{sum(result['errors'].values()):>6} {result['cpu']:>7.0f} {result['cpu_ratio']:>9.3f} "
                  f"{result['ratio']:>6.3f} {verdict:>8}")
            errors = ", ".join(f"{n} {kind}" for kind, n in result["errors"].items() if n)
            if errors:
                print(f"    (errors, all rounds: {errors})")
        if refreshed:
            print(f"({refreshed} of the requests checked before the load answered with a Set-Cookie)")
    print(f"\nFixed offered rate (hey -z {args.rate_seconds:g}s -c 30 -q {args.rate / 30:g}: {args.rate:g} requests "
          f"per second), lesson page of one signed-in learner; target p99 < {P99_TARGET_MS:g} ms, none over "
          f"{SLOW_MS / 1000:g} s\n")
    print(f"{'workers':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'> 1 s':>6} "
          f"{'errors':>6}  verdict")
    print("-" * 76)
    for workers, _summary, fixed, _refreshed in results:
        verdict = "ok" if fixed["p99"] < P99_TARGET_MS and not fixed["slow"] and not fixed["errors"] else "NO"
        print(f"{workers:>7} {fixed['requests']:>8} {fixed['rate']:>7.0f} {fixed['p50']:>8.1f} {fixed['p99']:>8.1f} "
              f"{fixed['max']:>8.1f} {fixed['slow']:>6} {fixed['errors']:>6}  {verdict}")
    print(f"\n{machine(database, busy)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="gunicorn workers (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, medians printed (default 3)")
    parser.add_argument("--seconds", type=int, default=15, help="wrk's seconds per page and round (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured wrk seconds per page first (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk's open connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads (default 2)")
    parser.add_argument("--readers", type=int, default=32, help="signed-in learners reading (default 32)")
    parser.add_argument("--staff", type=int, default=60, help="learners of the dashboard's institution (default 60)")
    parser.add_argument("--rate", type=float, default=300.0, help="hey's offered requests per second (default 300)")
    parser.add_argument("--rate-seconds", type=float, default=15.0, help="hey's seconds (default 15)")
    args = parser.parse_args()
    missing = [tool for tool in ("wrk", "hey") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"{' and '.join(missing)} not found: `make bench-deps` installs them (Debian packages wrk, hey).")

    busy = os.getloadavg()[0]  # other work on the machine takes CPU from load generator and servers
    folder = tempfile.mkdtemp(prefix="academy-bench-")
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.db"
    results = []
    try:
        data = prepare(database_url, args.readers, args.staff)
        args.readers_list = data["readers"]
        for workers in args.workers:
            rounds, fixed, refreshed = measure(data, workers, args, folder, database_url)
            results.append((workers, medians(rounds), fixed, refreshed))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print_tables(results, args, "SQLite" if database_url.startswith("sqlite") else "PostgreSQL", busy,
                 max(args.readers, args.staff))


if __name__ == "__main__":
    main()
