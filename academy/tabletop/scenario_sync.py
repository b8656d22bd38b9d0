"""Syncing checked scenario files into the database: upsert by slug, one immutable version per content."""

from collections import Counter
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from academy.core.content.files import ContentInvalid
from academy.core.models import utcnow
from academy.extensions import db
from academy.tabletop import models
from academy.tabletop.scenario import Scenario
from academy.tabletop.scenario_files import load_scenarios

# "new version": the file's content changed, to something new or back to an earlier version's content.
# "restored": a file that had disappeared is back as it was.
OUTCOMES = ("created", "new version", "restored", "unchanged", "archived")


def sync_scenarios(folder: Path | str, module_slugs: Collection[str] | None) -> Counter:
    """Check the folder, then upsert its scenarios in the session's transaction; flushes, the caller commits."""
    scenarios, problems = load_scenarios(folder, module_slugs)
    if problems:
        raise ContentInvalid(problems)
    now = utcnow()
    counts = Counter(dict.fromkeys(OUTCOMES, 0))
    rows = {row.slug: row for row in db.session.scalars(db.select(models.Scenario))}
    for scenario in scenarios:
        counts[_upsert(rows.get(scenario.slug), scenario, now)] += 1
    present = {scenario.slug for scenario in scenarios}
    for slug, row in rows.items():
        if slug not in present and row.archived_at is None:
            row.archived_at = now  # never deleted: sessions and reports point at its versions
            counts["archived"] += 1
    db.session.flush()
    return counts


def _upsert(row: models.Scenario | None, scenario: Scenario, now: datetime) -> str:
    digest = scenario.content_hash
    if row is None:
        row = models.Scenario(slug=scenario.slug, created_at=now)
        db.session.add(row)
        outcome = "created"
    elif row.current_version is None or row.current_version.content_hash != digest:
        outcome = "new version"
    elif row.archived_at is not None:
        outcome = "restored"
    else:
        return "unchanged"
    row.title, row.summary, row.duration_minutes = scenario.title, scenario.summary, scenario.duration_minutes
    row.current_version = _version(row, scenario, digest, now)
    row.archived_at = None
    return outcome


def _version(row: models.Scenario, scenario: Scenario, digest: str, now: datetime) -> models.ScenarioVersion:
    """The version with this content: an earlier one if the file went back to it, else the next number."""
    for version in row.versions:
        if version.content_hash == digest:
            return version
    number = max((version.number for version in row.versions), default=0) + 1
    return models.ScenarioVersion(
        scenario=row, number=number, content_hash=digest, definition=scenario.to_definition(), created_at=now
    )
