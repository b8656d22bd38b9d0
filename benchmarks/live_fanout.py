"""Inject fan-out to N live participants: how many receive it, how fast, and the server's memory.

Starts the academy under gunicorn with the production settings (deploy/gunicorn.conf.py) on a temporary SQLite database,
connects N participants to one session's live stream, has the trainer release an inject through the
console, and prints when each participant received it. Usage:

    python benchmarks/live_fanout.py [--participants 100 500] [--workers 1]
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "benchmark-secret-key"
# The production settings (README, Production): gevent workers forked from an arbiter that loaded the application.
SERVER_SETTINGS = ["-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
SCENARIO = "regional-ddos-egov-banks"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(database_url: str, participants: int) -> dict:
    """Database with the real content, a trainer, a paused session and N guest participants with roles."""
    os.environ.update(DATABASE_URL=database_url, SECRET_KEY=SECRET)
    from flask import session as flask_session
    from flask_wtf.csrf import generate_csrf

    from academy import create_app
    from academy.accounts.models import Role
    from academy.accounts.services import create_user
    from academy.extensions import db
    from academy.learning.models import Module
    from academy.learning.sync import sync_content
    from academy.organisations.services import ensure_countries
    from academy.tabletop import services
    from academy.tabletop.models import Scenario
    from academy.tabletop.scenario_sync import sync_scenarios

    app = create_app({"TABLETOP_TICKER": False})
    with app.app_context():
        db.create_all()
        ensure_countries()
        sync_content(ROOT / "courses")
        sync_scenarios(ROOT / "exercises", set(db.session.scalars(db.select(Module.slug))))
        trainer = create_user(
            email="trainer@bench.example",
            name="Bench Trainer",
            password="fan-out measurement 2026",
            institution=None,
            track=None,
            roles=(Role.TRAINER,),
        )
        scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == SCENARIO))
        live = services.create_session(trainer, scenario, "Benchmark", allow_guests=True)
        roles = [r.code for r in services.scenario_of(live).roles]
        serializer = app.session_interface.get_signing_serializer(app)
        cookies = []
        for n in range(participants):
            participant = services.join(live, guest_name=f"Guest {n}", guest_institution="Benchmark")
            services.assign_role(live, participant, roles[n % len(roles)], trainer)
            cookies.append(serializer.dumps({"guest_participants": {str(live.id): participant.guest_token}}))
        services.run_command(live, "start", trainer)
        services.run_command(live, "pause", trainer)  # scheduled injects wait; the trainer fires one by hand
        db.session.commit()
        target = next(
            i.id for i in services.scenario_of(live).injects if i.audience == "all" and not i.follow_up and i.offset > 0
        )
        with app.test_request_context():
            flask_session["_user_id"], flask_session["_fresh"] = trainer.get_id(), True
            csrf = generate_csrf()
            trainer_cookie = serializer.dumps(dict(flask_session))
        return {
            "session_id": live.id,
            "cookies": cookies,
            "trainer_cookie": trainer_cookie,
            "csrf": csrf,
            "inject": target,
        }


def start_server(database_url: str, port: int, workers: int, extra_env: dict) -> subprocess.Popen:
    # Every participant connects from 127.0.0.1: lift the per-address cap on open streams.
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "LIVE_STREAMS_PER_ADDRESS": "100000",
        **extra_env,
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        *SERVER_SETTINGS,
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "120",
        "--graceful-timeout",
        "2",
        "wsgi:app",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


async def listen(
    port: int, path: str, cookie: str, inject: str, connected: asyncio.Event, counter: list, total: int, arrivals: list
) -> None:
    """One participant's page: its stream, then what the page does to show the card (nothing, or one fetch)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        f"Cookie: session={cookie}\r\n\r\n".encode()
    )
    await writer.drain()
    buffer = b""
    while b"\r\n\r\n" not in buffer or b"retry:" not in buffer:
        chunk = await reader.read(65536)
        if not chunk:
            return
        buffer += chunk
    counter[0] += 1
    if counter[0] == total:
        connected.set()
    buffer, needle = b"", f'"inject_id":"{inject}"'.encode()
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        buffer += chunk
        event = next(
            (block for block in buffer.split(b"\n\n")[:-1] if b"event: inject.released" in block and needle in block),
            None,
        )
        if event is not None:
            break
    event_at = time.perf_counter()
    writer.close()
    # Whether the card came with the event is read from the bytes; its JSON is checked after the measurement
    # (check_cards): 500 pages share this one process, and each would otherwise wait for the others' parsing.
    if card_mark(inject) in event:
        card_at = event_at  # the page inserts it
    else:
        await fetch(port, event_data(event)["card_url"], cookie)  # what the page does without it
        card_at = time.perf_counter()
    arrivals.append((event_at, card_at, event if card_at == event_at else None))


def card_mark(inject: str) -> bytes:
    """The card's root element as it reads inside the event's JSON."""
    return json.dumps(f'id="inject-{inject}"')[1:-1].encode()


def event_data(event: bytes) -> dict:
    return json.loads(next(line[6:] for line in event.split(b"\n") if line.startswith(b"data: ")))


def check_cards(arrivals: list, inject: str) -> None:
    """Every card counted as come with its event is the inject's card, in the event's card_html."""
    for _, _, event in arrivals:
        if event is not None:
            assert f'id="inject-{inject}"' in (event_data(event).get("card_html") or ""), event[:300]


async def fetch(port: int, path: str, cookie: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close\r\n"
        f"Cookie: session={cookie}\r\n\r\n".encode()
    )
    await writer.drain()
    body = await reader.read()
    writer.close()
    assert body.startswith(b"HTTP/1.1 200"), body[:200]
    return body


def release(port: int, data: dict) -> None:
    body = f"csrf_token={data['csrf']}&inject_id={data['inject']}".encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/exercises/sessions/{data['session_id']}/release",
        data=body,
        method="POST",
        headers={
            "Cookie": f"session={data['trainer_cookie']}",
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.status


def server_memory_mib(server: subprocess.Popen) -> tuple[float, float, float]:
    """Resident memory of the whole server (arbiter and workers) added up, the same counting each page shared by
    several of its processes once (proportional set size: the workers are forked from the arbiter and share the
    interpreter's pages), and the resident memory of its largest worker."""
    process = psutil.Process(server.pid)
    processes = [process, *process.children(recursive=True)]
    rss = [p.memory_info().rss for p in processes]
    pss = sum(p.memory_full_info().pss for p in processes)
    return sum(rss) / 2**20, pss / 2**20, max(rss[1:], default=0) / 2**20


async def measure(port: int, data: dict) -> tuple[list[float], list[float]]:
    """Milliseconds from the trainer's release to each participant's event, and to their card being in the page."""
    total = len(data["cookies"])
    connected, counter, arrivals = asyncio.Event(), [0], []
    path = f"/exercises/sessions/{data['session_id']}/stream?view=participant"
    tasks = [
        asyncio.create_task(listen(port, path, cookie, data["inject"], connected, counter, total, arrivals))
        for cookie in data["cookies"]
    ]
    await asyncio.wait_for(connected.wait(), timeout=120)
    await asyncio.sleep(1.0)  # let every stream finish its catch-up and wait on the broker
    sent = time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(None, release, port, data)
    await asyncio.wait(tasks, timeout=30)
    for task in tasks:
        task.cancel()
    check_cards(arrivals, data["inject"])
    return ([(event - sent) * 1000 for event, _, _ in arrivals], [(card - sent) * 1000 for _, card, _ in arrivals])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run(participants: int, workers: int, extra_env: dict) -> dict:
    folder = tempfile.mkdtemp(prefix="academy-bench-")
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.db"
    try:
        data = prepare(database_url, participants)
        port = free_port()
        server = start_server(database_url, port, workers, extra_env)
        try:
            latencies, cards = asyncio.run(measure(port, data))
            memory, proportional, worker_memory = server_memory_mib(server)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "participants": participants,
        "workers": workers,
        "received": len(latencies),
        "p50": percentile(latencies, 0.5) if latencies else float("nan"),
        "p95": percentile(latencies, 0.95) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "memory": memory,
        "proportional": proportional,
        "worker_memory": worker_memory,
        "card_p50": percentile(cards, 0.5) if cards else float("nan"),
        "card_p95": percentile(cards, 0.95) if cards else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    extra_env = {"REDIS_URL": os.environ["REDIS_URL"]} if os.environ.get("REDIS_URL") else {}
    rows = [run(n, w, extra_env) for w in args.workers for n in args.participants]
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"gunicorn -c deploy/gunicorn.conf.py (gevent workers forked from the arbiter that loaded the application); "
        f"{'Redis relay' if extra_env else 'no relay'}"
    )
    print(
        "server MiB: resident memory of the arbiter and the workers added up (a page they share counts once per "
        "process); server PSS: each shared page counted once, split between its processes (the target's measure)"
    )
    print("event: release to the event in the stream; card: release to the inject's card in the page")
    print(
        f"{'participants':>12} {'workers':>7} {'received':>8} {'event p50':>9} {'event p95':>9} {'event max':>9} "
        f"{'card p50':>8} {'card p95':>8} {'server MiB':>10} {'server PSS':>10} {'worker MiB':>10}"
    )
    for row in rows:
        print(
            f"{row['participants']:>12} {row['workers']:>7} {row['received']:>8} {row['p50']:>9.1f} "
            f"{row['p95']:>9.1f} {row['max']:>9.1f} {row['card_p50']:>8.1f} {row['card_p95']:>8.1f} "
            f"{row['memory']:>10.1f} {row['proportional']:>10.1f} {row['worker_memory']:>10.1f}"
        )


if __name__ == "__main__":
    main()
