"""Run every benchmark one after the other and print their tables (what each measures: benchmarks/README.md).

    .venv/bin/python benchmarks/run_all.py            # the numbers of the README's "Performance" section
    .venv/bin/python benchmarks/run_all.py --quick    # a short run that only shows everything works

The fan-out benchmark also runs with two workers when their events can travel between processes: with REDIS_URL
set, or else a throw-away Debian `redis-server` (no persistence, loopback port) started here when it is installed.
The page benchmark loads its servers with Debian's wrk and hey: `make bench-deps` installs them (`make bench` runs
this script after installing everything).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(folder: str) -> tuple[subprocess.Popen | None, str | None]:
    """A private Redis for the multi-worker fan-out, or (None, None) when redis-server is not installed."""
    server = shutil.which("redis-server")
    if server is None:
        return None, None
    port = free_port()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", folder], stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.1)
    process.kill()
    return None, None


def runs(quick: bool, multiworker: bool) -> list[tuple[str, list[str]]]:
    workers = ["--workers", "1", "2"] if multiworker else ["--workers", "1"]
    if quick:
        return [("page_throughput.py", ["--seconds", "2", "--warmup", "1", "--rounds", "1", "--rate-seconds", "2",
                                        "--workers", "1"]),
                ("live_fanout.py", ["--participants", "20", *workers]),
                ("completion_report.py", ["--learners", "300", "--runs", "1"]),
                ("report_load.py", ["--staff", "300", "--streams", "5", "--seconds", "5", "--rate", "20"])]
    return [("page_throughput.py", ["--rounds", "3", "--workers", "1", "2"]),
            ("live_fanout.py", ["--participants", "100", "500", *workers]),
            ("completion_report.py", []),
            ("report_load.py", [])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="academy-bench-redis-")
    redis, env = None, dict(os.environ)
    if not env.get("REDIS_URL"):
        redis, url = start_redis(folder)
        if url:
            env["REDIS_URL"] = url
    failed = []
    try:
        for script, options in runs(args.quick, bool(env.get("REDIS_URL"))):
            command = [sys.executable, str(HERE / script), *options]
            print(f"\n## {script} {' '.join(options)}\n", flush=True)
            started = time.perf_counter()
            if subprocess.run(command, cwd=HERE.parent, env=env).returncode != 0:
                failed.append(script)
            print(f"\n({script} took {time.perf_counter() - started:.0f} s)", flush=True)
    finally:
        if redis is not None:
            os.killpg(redis.pid, signal.SIGTERM)
            redis.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
