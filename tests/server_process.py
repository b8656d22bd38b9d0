"""The academy as a real server process (gunicorn), and a live-stream reader, for tests that kill and restart it.

A test gives the server its environment (DATABASE_URL, REDIS_URL, SECRET_KEY …), starts it, talks to it over
HTTP, kills it with SIGKILL as a crash or the kernel's OOM killer would, and starts it again on the same port,
as a supervisor (systemd, a container runtime) does.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
# The README's production settings: gevent workers forked from an arbiter that loaded the application once.
PRODUCTION_SETTINGS = ["-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
START_SECONDS = 60  # a loaded CI machine imports the application slowly


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class ServerProcess:
    """`gunicorn wsgi:app` on one loopback port: started, killed, started again; its output goes to `log`.

    A gevent server runs with the production settings (deploy/gunicorn.conf.py); another worker class without them.
    """

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 1, worker_class: str = "gevent"):
        # gunicorn's control socket lives in XDG_RUNTIME_DIR: one folder per server, not one path for all of them.
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(log.parent), **env}
        self.log, self.workers, self.worker_class = log, workers, worker_class
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts, self.spawned_at, self.boot_seconds = 0, 0.0, 0.0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server (again, on the same port) and return once /healthz answers."""
        self.spawn()
        self.wait_until_serving()

    def spawn(self) -> None:
        """Start the server process without waiting for it to serve."""
        assert not self.running, "the server is already running"
        self.starts += 1
        self.spawned_at = time.monotonic()
        settings = PRODUCTION_SETTINGS if self.worker_class == "gevent" else []
        command = [sys.executable, "-m", "gunicorn", *settings, "--worker-class", self.worker_class,
                   "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}", "--keep-alive", "60",
                   "--graceful-timeout", "1", "--log-level", "warning", "wsgi:app"]
        with open(self.log, "ab") as output:
            output.write(f"--- start {self.starts} on port {self.port} ---\n".encode())
            output.flush()
            # Its own process group: a kill reaches the master and every worker, and nothing of the test.
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=output,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_serving(self) -> None:
        """Return once /healthz answers; `boot_seconds` is then how long the start took."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.running, f"gunicorn stopped:\n{self.tail()}"
            if len(psutil.Process(self.process.pid).children()) >= self.workers:
                try:
                    if self.request("GET", "/healthz", timeout=2).status == 200:
                        self.boot_seconds = time.monotonic() - self.spawned_at
                        return
                except OSError:
                    pass  # the worker is still importing the application
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not start within {START_SECONDS} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the master and its workers at once: no shutdown code runs. Returns when all of them are gone."""
        assert self.running, f"the server is not running:\n{self.tail()}"
        group = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        _gone, alive = psutil.wait_procs(group, timeout=10)
        assert not alive, f"still running after SIGKILL: {alive}"

    def stop(self) -> None:
        """End the server (for a fixture's teardown): SIGTERM, then SIGKILL if it lingers."""
        if not self.running:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def connect(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, *, body: bytes | str | None = None, headers: dict | None = None,
                timeout: float = 30) -> Reply:
        """One request on its own connection, read to the end."""
        connection = self.connect(timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def send_only(self, method: str, path: str, *, body: bytes | str, headers: dict) -> socket.socket:
        """Send a whole request and return without reading the answer: a request in flight when the server dies."""
        connection = self.connect()
        connection.request(method, path, body=body, headers=headers)
        return connection.sock

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def settle(streams: list["EventStream"], quiet: float = 0.3) -> None:
    """Return once none of the streams has received anything for `quiet` seconds (late duplicates included)."""
    while True:
        counts = [len(stream.events) for stream in streams]
        time.sleep(quiet)
        if counts == [len(stream.events) for stream in streams]:
            return


class EventStream:
    """An EventSource on its own thread: every complete event (id, kind, data) in the order it arrived.

    As in a browser, an event counts only once its closing blank line has arrived, so `last_id` is what
    EventSource would send as Last-Event-ID when it reconnects.
    """

    def __init__(self, server: ServerProcess, path: str, cookie: str | None = None,
                 last_event_id: int | None = None):
        headers = {"Accept": "text/event-stream"}
        if cookie:
            headers["Cookie"] = f"session={cookie}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.connection = server.connect()
        self.connection.request("GET", path, headers=headers)
        response = self.connection.getresponse()
        assert response.status == 200, f"{path}: {response.status}\n{server.tail()}"
        self.events: list[dict] = []
        self.arrived = threading.Condition()
        self.ready = threading.Event()  # the `retry:` line came: the server has sent the catch-up after it
        self.ended = threading.Event()  # the server closed the stream or died
        self.reader = threading.Thread(target=self._read, args=(response,), daemon=True)
        self.reader.start()

    def _read(self, response) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in iter(response.readline, b""):
                line = raw.decode().rstrip("\r\n")
                if line:
                    if not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    continue
                if "retry" in fields:
                    self.ready.set()
                if "id" in fields and "data" in fields:
                    event = {"id": int(fields["id"]), "kind": fields.get("event"), "data": json.loads(fields["data"]),
                             "received_at": time.time()}
                    with self.arrived:
                        self.events.append(event)
                        self.arrived.notify_all()
                fields = {}
        except (OSError, ValueError, http.client.HTTPException):
            pass  # the connection was reset (a killed server) or closed by the test
        finally:
            self.ended.set()
            with self.arrived:
                self.arrived.notify_all()

    @property
    def last_id(self) -> int | None:
        with self.arrived:
            return self.events[-1]["id"] if self.events else None

    def wait_for(self, predicate, timeout: float) -> dict | None:
        """The first event that satisfies `predicate`, waiting up to `timeout` seconds for it; else None."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = next((event for event in self.events if predicate(event)), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0 or self.ended.is_set():
                    return found
                self.arrived.wait(left)

    def close(self) -> None:
        if self.connection.sock is not None:
            try:
                self.connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader
            except OSError:
                pass
        self.reader.join(timeout=5)
        self.connection.close()
