"""Instructions per request of the pages of page_throughput.py and of the one-line app, counted by valgrind.

Time is disturbed by whatever else runs on the machine; the number of instructions a request executes is not. Under
valgrind's callgrind (Debian package `valgrind`), one process builds the same data as page_throughput.py, signs a
learner and the manager in through the sign-in form, and makes each page's requests in turn through Flask's test
client (the one-line app's too, so both carry the client's own cost); callgrind counts the instructions between
markers around each series. Ratios of these counts tracked the CPU-time ratios of the servers under wrk. Slow: a few
minutes.

    python benchmarks/page_instructions.py [--requests 60]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = ("one-line Flask app", "/healthz", "lesson page", "course page", "manager dashboard")


def measured(requests: int) -> None:
    """Inside valgrind: the data, the signed-in clients, then each case's requests between two os.getppid() calls,
    where callgrind writes its counts out."""
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    import page_throughput as pt
    from oneline_app import app as oneline

    folder = tempfile.mkdtemp(prefix="academy-bench-")
    database_url = f"sqlite:///{folder}/bench.db"
    data = pt.prepare(database_url, 1, 60)
    os.environ.update(ACADEMY_ENV="production", PUBLIC_URL="http://localhost", DATABASE_URL=database_url,
                      LOGIN_RATE_LIMIT="1000 per minute")
    from academy import create_app

    app = create_app({"TABLETOP_TICKER": False})
    learner, manager = signed_in(app, data["readers"][0]), signed_in(app, data["manager"])
    paths = {"one-line Flask app": (oneline.test_client(), "/"), "/healthz": (app.test_client(), "/healthz"),
             "lesson page": (learner, data["lessons"][0]), "course page": (learner, data["course"]),
             "manager dashboard": (manager, data["dashboard"])}
    headers = {"User-Agent": pt.USER_AGENT}
    for name in CASES:
        client, path = paths[name]
        for _ in range(10):  # warm: templates compiled, statements cached, figures kept
            assert client.get(path, headers=headers).status_code == 200, name
        os.getppid()
        for _ in range(requests):
            client.get(path, headers=headers)
        os.getppid()
    shutil.rmtree(folder, ignore_errors=True)


def signed_in(app, email: str):
    from page_throughput import PASSWORD, USER_AGENT

    client = app.test_client()
    page = client.get("/account/login", headers={"User-Agent": USER_AGENT}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    answer = client.post("/account/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                         headers={"User-Agent": USER_AGENT})
    assert answer.status_code == 302, email
    client.get("/account/", headers={"User-Agent": USER_AGENT})  # the CSRF token into the session, as a browser
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="requests counted per page (default 60)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        measured(args.requests)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found: it is the Debian package valgrind.")
    folder = tempfile.mkdtemp(prefix="academy-callgrind-")
    try:
        subprocess.run(["valgrind", "--tool=callgrind", "--cache-sim=no", "--dump-before=getppid",
                        f"--callgrind-out-file={folder}/out", sys.executable, __file__, "--inside",
                        "--requests", str(args.requests)],
                       env={**os.environ, "PYTHONHASHSEED": "0"}, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        # Dumps: up to the first marker, then each series and what lies between two series, in turn.
        dumps = sorted(Path(folder).glob("out.*"), key=lambda path: int(path.suffix[1:]))
        counts = [int(re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.M).group(1)) for dump in dumps]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    series = counts[1::2][:len(CASES)]
    ceiling = series[0] / args.requests
    print(f"{'page':<20} {'instructions/request':>20} {'ratio':>6}")
    print("-" * 48)
    for name, total in zip(CASES, series, strict=True):
        per_request = total / args.requests
        print(f"{name:<20} {per_request / 1e6:>18.2f} M {ceiling / per_request:>6.3f}")
    print(f"\n{args.requests} requests per page through Flask's test client, under valgrind's callgrind; Python "
          f"{sys.version.split()[0]}; ratio: the one-line app's count over the page's")


if __name__ == "__main__":
    main()
