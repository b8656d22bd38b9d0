"""`flask content translations`: what is translated, and PO files for translators to take away and bring back.

    flask content translations                      a coverage table: language × course and scenario
    flask content translations export TAG [--to DIR] [--course SLUG] [--scenario SLUG]
    flask content translations import FILE ...

An export writes, for each source, a PO file holding every segment: translations that are current, stale ones
marked fuzzy with the English they were made from (PO editors show what changed), missing ones empty. Without --to
it updates the translation files in the content folders (adding the segments new since). An import checks files
that came back against today's source and, only when every file is free of errors, writes each to its place.
"""

from pathlib import Path

import click

from academy.content_cli import _check, _echo_errors
from academy.core import locales
from academy.core.content.files import Problems
from academy.core.content.translations import (
    LANGUAGE_HEADER,
    SOURCE_HEADER,
    check_entries,
    own_headers,
    read_file,
    write_file,
)
from academy.learning import translations as course_translations
from academy.tabletop import translations as scenario_translations


@click.group("translations", invoke_without_command=True)
@click.pass_context
def translations(context):
    """Print a coverage table of the content translations (share of segments with a current translation)."""
    if context.invoked_subcommand is not None:
        return
    checked = _checked()
    courses = [course.slug for course in checked.tree.courses]
    scenarios = [scenario.slug for scenario in checked.scenario_list]
    shares = coverage(checked)
    width = max(len(name) for name in courses + scenarios + ["course / scenario"])
    click.echo(f"{'course / scenario':<{width}}  " + "  ".join(f"{tag:>7}" for tag in locales.TRANSLATED))
    for name in courses + scenarios:
        cells = [shares.get((name, tag)) for tag in locales.TRANSLATED]
        click.echo(f"{name:<{width}}  " + "  ".join("      —" if cell is None else f"{cell:>6.0%} " for cell in cells))
    click.echo("Share of segments with a current translation; — none; sr-Latn is made from sr-Cyrl.")


def coverage(checked) -> dict[tuple[str, str], float]:
    """(course or scenario slug, tag) → share of its segments with a current translation."""
    shares = {}
    for translation in checked.tree.translations:
        shares[(translation.course, translation.tag)] = translation.checked.translated / max(
            translation.checked.segments, 1
        )
    for translation in checked.scenario_translations:
        shares[(translation.scenario, translation.tag)] = translation.checked.translated / max(
            translation.checked.segments, 1
        )
    return shares


def _checked():
    checked = _check(None, None)
    if checked.errors:
        _echo_errors(checked.errors)
        raise SystemExit(1)
    return checked


def _sources(checked, courses: tuple[str, ...], scenarios: tuple[str, ...]):
    """(kind, slug, segments, the file in the content folders) of each source asked for (none asked: all)."""
    from flask import current_app

    found = []
    for course in checked.tree.courses:
        if (courses or not scenarios) and (not courses or course.slug in courses):
            folder = Path(current_app.config["COURSES_DIR"]) / course.slug / course_translations.FOLDER
            found.append(("course", course.slug, course_translations.course_segments(course), folder))
    for scenario in checked.scenario_list:
        if (scenarios or not courses) and (not scenarios or scenario.slug in scenarios):
            folder = Path(current_app.config["EXERCISES_DIR"]) / scenario_translations.FOLDER / scenario.slug
            found.append(("scenario", scenario.slug, scenario_translations.scenario_segments(scenario), folder))
    return found


@translations.command("export")
@click.argument("tag")
@click.option(
    "--to",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the files into this folder (default: update the translation files in place).",
)
@click.option("--course", "courses", multiple=True, help="Only this course (repeatable).")
@click.option("--scenario", "scenarios", multiple=True, help="Only this scenario (repeatable).")
def export(tag, target, courses, scenarios):
    """Write the PO file of language TAG for each course and scenario (or those named)."""
    locale = locales.get(tag)
    if locale is None or locale.tag == locales.DEFAULT or locale.tag in locales.DERIVED:
        offered = ", ".join(t for t in locales.TRANSLATED if t not in locales.DERIVED)
        raise click.ClickException(f"unknown language '{tag}': export one of {offered}")
    checked = _checked()
    sources = _sources(checked, courses, scenarios)
    unknown = set(courses) - {slug for kind, slug, *_ in sources if kind == "course"}
    unknown |= set(scenarios) - {slug for kind, slug, *_ in sources if kind == "scenario"}
    if unknown:
        raise click.ClickException(f"no such course or scenario: {', '.join(sorted(unknown))}")
    for kind, slug, segments, folder in sources:
        existing_path = folder / f"{locale.tag}.po"
        existing = read_file(existing_path, str(existing_path), Problems()) if existing_path.exists() else None
        path = (target / f"{kind}-{slug}.{locale.tag}.po") if target else existing_path
        write_file(path, locale.tag, segments, existing, f"{kind}:{slug}")
        click.echo(f"{path}: {len(segments)} segments")


@translations.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(files):
    """Check PO files that come back from translators and put each in its place; any error: nothing is written."""
    checked = _checked()
    sources = {f"{kind}:{slug}": (segments, folder) for kind, slug, segments, folder in _sources(checked, (), ())}
    problems, ready = Problems(), []
    for path in files:
        display = str(path)
        headers = own_headers(path.read_bytes())
        source, tag = headers.get(SOURCE_HEADER, ""), headers.get(LANGUAGE_HEADER, "")
        if source not in sources:
            problems.add(
                display, 1, f"{SOURCE_HEADER} '{source}' names no course or scenario (course:<slug>, scenario:<slug>)"
            )
            continue
        locale = locales.get(tag)
        if locale is None or locale.tag == locales.DEFAULT:
            problems.add(
                display,
                1,
                f"unknown language '{tag}' ({LANGUAGE_HEADER} header): one of {', '.join(locales.TRANSLATED)}",
            )
            continue
        file = read_file(path, display, problems, tag=locale.tag)
        if file is None:
            continue
        segments, folder = sources[source]
        check_entries(file, segments, problems)
        ready.append((folder / f"{locale.tag}.po", locale.tag, segments, file, source))
    if problems.items:
        for problem in problems.sorted():
            click.echo(str(problem))
        click.echo(f"{len(problems.items)} error(s); nothing was written.", err=True)
        raise SystemExit(1)
    for destination, tag, segments, file, source in ready:
        write_file(destination, tag, segments, file, source)
        click.echo(f"{destination}: imported")
