"""The report the courses are written from: its text when it is beside the checkout, and what the repository keeps
of it instead — a hash of every run of 15 words, enough to tell a pasted sentence, never the sentences themselves.

REPORT_PATH names the text (default: ../shared/source/western-balkans-cybersecurity-report.txt beside the
checkout). Tests that need the text itself carry the marker `report` and are deselected, with a one-line notice,
where it is absent. `python -m tests.report_source` writes the hashes again after the report changes.
"""
import hashlib
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = Path(os.environ.get("REPORT_PATH") or
              ROOT.parent / "shared" / "source" / "western-balkans-cybersecurity-report.txt")
RUNS_FILE = ROOT / "tests" / "data" / "report-runs.txt"
COPY_RUN = 15  # words in a row shared with the report: a sentence, not a name, title or list


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9€%]+", text)


def run_key(run: list[str]) -> str:
    """A run of words as the repository keeps it: 12 hex digits of its SHA-256, lower-cased."""
    return hashlib.sha256(" ".join(run).lower().encode()).hexdigest()[:12]


def runs_of(text: str) -> set[str]:
    found = words(text)
    return {run_key(found[i:i + COPY_RUN]) for i in range(len(found) - COPY_RUN)}


def kept_runs() -> set[str]:
    return set(RUNS_FILE.read_text(encoding="ascii").split())


if __name__ == "__main__":
    RUNS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RUNS_FILE.write_text("\n".join(sorted(runs_of(REPORT.read_text(encoding="utf-8")))) + "\n", encoding="ascii")
    print(f"{RUNS_FILE.relative_to(ROOT)}: {len(kept_runs())} runs of {COPY_RUN} words from {REPORT}")
