"""`flask content check` and `flask content sync`: the course content files and the database."""
from pathlib import Path

import click
from flask import current_app

from academy.extensions import db
from academy.learning.content import load_content
from academy.learning.sync import OUTCOMES, ContentInvalid, sync_content

folder_option = click.option(
    "--path", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="The content folder (default: the app's COURSES_DIR, the repository's courses/).",
)


@click.group("content")
def content():
    """Check course content files and sync them into the database."""


def _echo_errors(errors) -> None:
    for error in errors:
        click.echo(str(error))
    click.echo(f"{len(errors)} error(s); nothing was written.", err=True)


@content.command("check")
@folder_option
def check(folder):
    """Validate every content file; print each error as file:line: message. Writes nothing."""
    tree = load_content(folder or current_app.config["COURSES_DIR"])
    if tree.errors:
        _echo_errors(tree.errors)
        raise SystemExit(1)
    click.echo(f"{tree.summary()}: OK")


@content.command("sync")
@folder_option
def sync(folder):
    """Check, then upsert the content by slug in one transaction; removed items are archived."""
    try:
        report = sync_content(folder or current_app.config["COURSES_DIR"])
    except ContentInvalid as invalid:
        db.session.rollback()
        _echo_errors(invalid.errors)
        raise SystemExit(1) from invalid
    db.session.commit()
    for kind, counts in report.counts.items():
        click.echo(f"{kind:<10} " + ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES))
    totals = ", ".join(f"{report.total(outcome)} {outcome}" for outcome in OUTCOMES)
    click.echo(f"Release {report.release.id} ({report.release.tree_hash[:12]}): {totals}")
