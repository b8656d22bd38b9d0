"""`flask content check` and `flask content sync`: courses/ and exercises/, checked and synced together.

Above both features: the scenarios name course modules, so this is where the two trees meet.
"""

from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import current_app

from academy.core.content.files import ContentInvalid, Problem, Problems
from academy.core.content.translation_sync import sync_translations
from academy.extensions import db
from academy.learning.content import load_content
from academy.learning.sync import OUTCOMES, sync_content
from academy.learning.tree import ContentTree
from academy.tabletop import translations as scenario_translations
from academy.tabletop.scenario_files import load_scenarios
from academy.tabletop.scenario_sync import OUTCOMES as SCENARIO_OUTCOMES
from academy.tabletop.scenario_sync import sync_scenarios

FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)
courses_option = click.option(
    "--path",
    "courses",
    type=FOLDER,
    default=None,
    help="The course folder (default: the setting COURSES_DIR, the checkout's courses/).",
)
exercises_option = click.option(
    "--exercises",
    type=FOLDER,
    default=None,
    help="The scenario folder (default: the setting EXERCISES_DIR). Scenarios name the modules of the course "
    "folder read with them, so --path without --exercises reads that course folder alone.",
)


@dataclass
class _Checked:
    tree: ContentTree
    exercises: Path | None
    module_slugs: set[str] | None
    scenarios: int = 0
    errors: list[Problem] = field(default_factory=list)
    scenario_list: list = field(default_factory=list)
    scenario_translations: list = field(default_factory=list)

    def summary(self) -> str:
        return self.tree.summary() + (f", {self.scenarios} scenarios" if self.exercises else "")


def _configured(key: str, option: str) -> Path:
    """A content folder of the settings, which an installed package must be pointed at (README, Production)."""
    folder = Path(current_app.config[key])
    if not folder.is_dir():
        raise click.ClickException(
            f"{key} is {folder}, which is not a folder: set {key}, or CONTENT_DIR to the folder "
            f"holding courses/ and exercises/, or pass {option}."
        )
    return folder


def _check(courses: Path | None, exercises: Path | None) -> _Checked:
    """Read both trees and collect every error of both; writes nothing."""
    if courses is None or exercises is not None:  # else another course folder, read alone
        exercises = exercises or _configured("EXERCISES_DIR", "--exercises")
    tree = load_content(courses or _configured("COURSES_DIR", "--path"))
    # A course.yml with errors leaves its modules unknown: scenarios naming them would only echo its errors.
    broken = any(error.path.endswith("course.yml") for error in tree.errors)
    checked = _Checked(
        tree, exercises, None if broken else {module.slug for module in tree.modules}, errors=list(tree.errors)
    )
    if exercises is not None:
        scenarios, problems = load_scenarios(exercises, checked.module_slugs)
        checked.scenarios, checked.scenario_list = len(scenarios), scenarios
        checked.errors += problems
        found = Problems()
        checked.scenario_translations = scenario_translations.load_translations(exercises, scenarios, found)
        checked.errors = sorted(set(checked.errors) | set(found.sorted()))
    return checked


@click.group("content")
def content():
    """Check course and scenario files and sync them into the database."""


def _echo_errors(errors) -> None:
    for error in errors:
        click.echo(str(error))
    click.echo(f"{len(errors)} error(s); nothing was written.", err=True)


def _counts(counts, outcomes) -> str:
    return ", ".join(f"{counts[outcome]} {outcome}" for outcome in outcomes)


def translation_notes(found) -> list[str]:
    """One line per translation file that is not complete and current: what `content check` reports besides errors."""
    lines = []
    for translation in found:
        checked = translation.checked
        if getattr(translation, "derived_from", None):
            continue
        name = getattr(translation, "course", None) or getattr(translation, "scenario", "")
        if checked.stale or checked.missing:
            lines.append(
                f"{checked.file.display}: {translation.tag} {name}: {checked.translated}/{checked.segments} segments "
                f"current, {len(checked.stale)} stale, {checked.missing - len(checked.stale)} missing"
                + (" (draft)" if checked.file.status == "draft" else "")
            )
    return lines


@content.command("check")
@courses_option
@exercises_option
def check(courses, exercises):
    """Validate every course and scenario file; print each error as file:line: message. Writes nothing."""
    checked = _check(courses, exercises)
    if checked.errors:
        _echo_errors(checked.errors)
        raise SystemExit(1)
    for line in translation_notes(checked.tree.translations + checked.scenario_translations):
        click.echo(line)
    click.echo(f"{checked.summary()}: OK")


@content.command("sync")
@courses_option
@exercises_option
def sync(courses, exercises):
    """Check both trees, then upsert courses and scenarios in one transaction; removed items are archived."""
    checked = _check(courses, exercises)
    if checked.errors:
        _echo_errors(checked.errors)
        raise SystemExit(1)
    try:
        report = sync_content(courses or current_app.config["COURSES_DIR"])
        scenario_counts = sync_scenarios(checked.exercises, checked.module_slugs) if checked.exercises else None
        if checked.exercises:
            report.counts["scenario translations"] = sync_translations(
                (scenario_translations.KIND, "coverage-scenario"),
                scenario_translations.translated_rows(checked.scenario_translations),
            )
    except ContentInvalid as invalid:  # a file changed since the check: keep neither tree
        db.session.rollback()
        _echo_errors(invalid.errors)
        raise SystemExit(1) from invalid
    db.session.commit()
    for kind, counts in report.counts.items():
        click.echo(f"{kind:<10} " + _counts(counts, OUTCOMES))
    totals = ", ".join(f"{report.total(outcome)} {outcome}" for outcome in OUTCOMES)
    click.echo(f"Release {report.release.id} ({report.release.tree_hash[:12]}): {totals}")
    if scenario_counts is not None:
        click.echo(f"{'scenarios':<10} " + _counts(scenario_counts, SCENARIO_OUTCOMES))
