"""The server while the job worker makes two completion-report PDFs of 10,000 staff: /healthz latency and live
inject delivery, before and during.

Starts the academy as in production, on a temporary SQLite database (or BENCH_DATABASE_URL): gunicorn with its
production settings (deploy/gunicorn.conf.py) and, beside it, the job worker (`flask --app wsgi jobs worker`, its queue
a SQLite file in the temporary instance folder, or Redis with REDIS_URL). One institution has 10,000 staff with their
enrolments and progress; one live exercise has 20 participants holding its stream open. Then, twice, for a fixed time:
`hey` asks for /healthz at a steady rate (a load balancer and some traffic) while the 20 participants keep their streams
open, the trainer releases an inject every few seconds and each stream is timed from the release to the event; the first
time with nothing else going on, the second right after a manager asked for two PDFs of the 10,000 (two periods: two
jobs), which the worker makes meanwhile. The first line of the table is the ceiling: the same `hey` load on a one-line
Flask application under the same server settings. Targets: /healthz p99 < 100 ms and every inject in every stream within
1 s while the PDFs are made, and both PDFs complete. Usage:

    python benchmarks/report_load.py [--staff 10000] [--streams 20] [--seconds 20] [--rate 50] [--workers 1] [--nice 10]
"""
import argparse
import asyncio
import csv
import io
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import completion_report  # noqa: E402  (the 10,000 staff, as that benchmark builds them)
import live_fanout  # noqa: E402  (the server, the live session, the streams)

HEALTH_TARGET_MS, INJECT_TARGET_MS = 100, 1000


def prepare(database_url: str, staff: int, streams: int) -> dict:
    """The live session of live_fanout.py, and an institution of `staff` people with a signed-in manager."""
    data = live_fanout.prepare(database_url, streams)
    from flask import session as flask_session
    from flask_wtf.csrf import generate_csrf

    from academy import create_app
    from academy.extensions import db
    from academy.tabletop import services
    from academy.tabletop.models import LiveSession

    app = create_app({"TABLETOP_TICKER": False})
    with app.app_context():
        institution_id, (manager_id, nonce), _counts = completion_report.build(staff)
        live = db.session.get(LiveSession, data["session_id"])
        data["injects"] = [i.id for i in services.scenario_of(live).injects
                           if i.audience == "all" and not i.follow_up and i.offset > 0]
        with app.test_request_context():
            flask_session["_user_id"], flask_session["_fresh"] = f"{manager_id}:{nonce}", True
            data["manager_csrf"] = generate_csrf()
            data["manager_cookie"] = app.session_interface.get_signing_serializer(app).dumps(dict(flask_session))
    data["institution_id"] = institution_id
    return data


def ceiling(seconds: int, rate: int) -> dict:
    """The same load on the smallest Flask application (benchmarks/oneline_app.py) under the same server: on a shared
    machine this is as good as /healthz can be."""
    port = live_fanout.free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), *live_fanout.SERVER_SETTINGS,
                               "--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                               "oneline_app:app"],
                              cwd=ROOT / "benchmarks", start_new_session=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        hey(port, 3, rate, "/").communicate()
        output, _ = hey(port, seconds, rate, "/").communicate()
    finally:
        stop(server)
    return {"health": health_figures(output), "injects": 0, "in_time": 0, "expected": 0, "p50": float("nan"),
            "max": float("nan"), "jobs": []}


def start_worker(env: dict, niceness: int) -> subprocess.Popen:
    """The job worker as the README runs it: two threads, at a lower CPU priority than the server."""
    command = ["nice", "-n", str(niceness), str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "jobs",
               "worker", "--workers", "2"]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def request(port: int, path: str, cookie: str, data: dict | None = None) -> tuple[int, dict, bytes]:
    body = None if data is None else "&".join(f"{k}={v}" for k, v in data.items()).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST" if body else "GET",
                                 headers={"Cookie": f"session={cookie}", "Accept": "application/json"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def ask_for_pdfs(port: int, data: dict) -> list[str]:
    """Two PDFs of the whole institution, for two periods: two jobs; their pages' addresses."""
    from academy.core.models import utcnow

    today = utcnow().date()
    pages = []
    for days in (365, 730):
        status, headers, _body = request(port, f"/institutions/{data['institution_id']}/reports/completion",
                                         data["manager_cookie"], {"csrf_token": data["manager_csrf"],
                                                                  "from": str(today - timedelta(days=days)),
                                                                  "to": str(today), "format": "pdf"})
        assert status == 303, status
        pages.append(headers["Location"])
    return pages


def hey(port: int, seconds: int, rate: int, path: str = "/healthz") -> subprocess.Popen:
    """`hey` at `rate` requests per second in all (5 clients), each request's time in CSV."""
    return subprocess.Popen(["hey", "-z", f"{seconds}s", "-c", "5", "-q", str(max(1, rate // 5)), "-o", "csv",
                             f"http://127.0.0.1:{port}{path}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def health_figures(output: bytes) -> dict:
    rows = list(csv.DictReader(io.StringIO(output.decode())))
    times = sorted(float(row["response-time"]) * 1000 for row in rows)
    errors = sum(1 for row in rows if row["status-code"] != "200")
    return {"requests": len(rows), "errors": errors, "p50": live_fanout.percentile(times, 0.5),
            "p99": live_fanout.percentile(times, 0.99), "max": times[-1]}


async def stream(port: int, path: str, cookie: str, ready: list, arrivals: dict) -> None:
    """One participant's page, its stream open for the whole phase: when each inject's event arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                 f"Cookie: session={cookie}\r\n\r\n".encode())
    await writer.drain()
    buffer, counted = b"", False
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            buffer += chunk
            if not counted and b"retry:" in buffer:
                ready.append(1)
                counted = True
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                found = re.search(rb'"inject_id":"([^"]+)"', block) if b"event: inject.released" in block else None
                if found:
                    arrivals.setdefault(found.group(1).decode(), []).append(time.perf_counter())
    finally:
        writer.close()


async def injects(port: int, data: dict, names: list[str], seconds: float, start_load) -> list[list[float]]:
    """Open every participant's stream, start the load, then release each inject in turn, evenly over `seconds`;
    per inject, the milliseconds from its release to its event in each stream."""
    ready: list = []
    arrivals: dict[str, list[float]] = {}
    path = f"/exercises/sessions/{data['session_id']}/stream?view=participant"
    tasks = [asyncio.create_task(stream(port, path, cookie, ready, arrivals)) for cookie in data["cookies"]]
    while len(ready) < len(tasks):
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # every stream past its catch-up, waiting on the broker
    start_load()
    sent = {}
    gap = seconds / (len(names) + 1)
    for name in names:
        await asyncio.sleep(gap)
        sent[name] = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(None, live_fanout.release, port, {**data, "inject": name})
    await asyncio.sleep(gap)
    for task in tasks:
        task.cancel()
    return [[(at - sent[name]) * 1000 for at in arrivals.get(name, [])] for name in names]


def pdf_jobs(port: int, data: dict, pages: list[str], asked_at: float, timeout: float) -> list[dict]:
    """Wait for both jobs; each one's time from the request to done (the job's own times), and its file's size."""
    done: dict[str, dict] = {}
    while len(done) < len(pages) and time.perf_counter() - asked_at < timeout:
        for page in pages:
            if page in done:
                continue
            _status, _headers, body = request(port, f"{page}/status", data["manager_cookie"])
            status = json.loads(body)
            if status["status"] in ("done", "failed"):
                took = (datetime.fromisoformat(status["finished_at"].rstrip("Z"))
                        - datetime.fromisoformat(status["created_at"].rstrip("Z")))
                done[page] = {"status": status["status"], "seconds": took.total_seconds(), "size": status["size"] or 0}
        time.sleep(0.25)
    for page, job in done.items():
        if job["status"] == "done":
            _status, _headers, content = request(port, f"{page}/file", data["manager_cookie"])
            job["pages"] = len(re.findall(rb"/Type\s*/Page\b", content))
    return [done.get(page, {"status": "not done", "seconds": float("nan"), "size": 0}) for page in pages]


def phase(port: int, data: dict, names: list[str], seconds: int, rate: int, with_pdfs: bool) -> dict:
    started: dict = {}

    def start_load():
        started["hey"] = hey(port, seconds, rate)
        started["at"] = time.perf_counter()
        started["pages"] = ask_for_pdfs(port, data) if with_pdfs else []

    delays = asyncio.run(injects(port, data, names, seconds - 1, start_load))
    output, _ = started["hey"].communicate(timeout=seconds + 30)
    jobs = pdf_jobs(port, data, started["pages"], started["at"], timeout=600) if with_pdfs else []
    flat = [ms for inject in delays for ms in inject]
    streams = len(data["cookies"])
    return {"health": health_figures(output), "injects": len(delays),
            "in_time": sum(1 for inject in delays for ms in inject if ms <= INJECT_TARGET_MS),
            "expected": len(delays) * streams, "p50": statistics.median(flat) if flat else float("nan"),
            "max": max(flat) if flat else float("nan"), "jobs": jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--staff", type=int, default=10000)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=20, help="of each phase")
    parser.add_argument("--rate", type=int, default=50, help="/healthz requests per second")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers")
    parser.add_argument("--nice", type=int, default=10, help="the job worker's niceness (README: 10)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    folder = tempfile.mkdtemp(prefix="academy-bench-")
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.db"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": live_fanout.SECRET, "INSTANCE_DIR": folder,
           "JOBS_QUEUE_NAME": f"bench-{os.getpid()}", "LIVE_STREAMS_PER_ADDRESS": "100000"}
    os.environ.update(INSTANCE_DIR=folder, JOBS_QUEUE_NAME=env["JOBS_QUEUE_NAME"])
    started = time.perf_counter()
    try:
        data = prepare(database_url, args.staff, args.streams)
        if database_url.startswith("sqlite:///"):  # the build's write-ahead log into the database before measuring
            with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"Built {args.staff} staff and a live session of {args.streams} participants in "
              f"{time.perf_counter() - started:.0f} s.")
        names = data["injects"]
        rows = [("ceiling: 1-line app", ceiling(args.seconds, args.rate))]
        port = live_fanout.free_port()
        server = live_fanout.start_server(database_url, port, args.workers, env)
        worker = start_worker(env, args.nice)
        try:
            hey(port, 3, args.rate).communicate()  # warm-up: the first requests of each connection are slower
            half = len(names) // 2
            rows += [("nothing else", phase(port, data, names[:half], args.seconds, args.rate, False)),
                     (f"two PDFs of {args.staff:,}", phase(port, data, names[half:], args.seconds, args.rate, True))]
        finally:
            stop(worker)
            stop(server)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print_table(rows, args, load)


def print_table(rows, args, load: float) -> None:
    print(f"\n/healthz: hey at {args.rate} requests/s for {args.seconds} s (target p99 < {HEALTH_TARGET_MS} ms); "
          f"injects: each to {args.streams} streams (target ≤ {INJECT_TARGET_MS} ms)")
    print(f"{'while':<20} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'injects':>7} "
          f"{'≤ 1 s':>9} {'p50 ms':>7} {'max ms':>7}  PDFs (request → done)")
    for name, row in rows:
        health = row["health"]
        jobs = ", ".join(f"{job['status']} in {job['seconds']:.1f} s ({job['size'] / 2**20:.1f} MiB, "
                         f"{job.get('pages', 0)} pages)" for job in row["jobs"]) or "—"
        if not row["expected"]:
            print(f"{name:<20} {health['requests']:>8} {health['errors']:>6} {health['p50']:>7.1f} "
                  f"{health['p99']:>7.1f} {health['max']:>7.1f} {'—':>7} {'—':>9} {'—':>7} {'—':>7}  —")
            continue
        print(f"{name:<20} {health['requests']:>8} {health['errors']:>6} {health['p50']:>7.1f} {health['p99']:>7.1f} "
              f"{health['max']:>7.1f} {row['injects']:>7} {row['in_time']:>4}/{row['expected']:<4} {row['p50']:>7.1f} "
              f"{row['max']:>7.1f}  {jobs}")
    print(f"\nMachine: {platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()}; gunicorn "
          f"gevent, {args.workers} worker(s); job worker: 2 threads, nice {args.nice}; SQLite; client, server and job "
          f"worker on the same "
          f"machine; load average before the run {load:.1f}")


if __name__ == "__main__":
    main()
