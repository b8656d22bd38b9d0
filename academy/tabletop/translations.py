"""Scenarios in other languages: `exercises/translations/<scenario-slug>/<tag>.po`, the text participants see.

Translated are the parts a participant reads: the scenario's title, summary and notice, each role's title and brief,
and each inject (title, body, artefacts, the decision's prompt, its options and their consequences). Facilitator
notes, objectives and debrief questions are the trainer's and stay in English. A session pins a scenario version:
its text is looked up by context and English (`Localised`), so a translation applies to every version whose English
it translates, and an inject whose translation is not current is shown in English, whole.
"""

from dataclasses import dataclass, replace
from pathlib import Path

from academy.core import locales
from academy.core.content.files import Problems
from academy.core.content.translations import SEPARATOR, Checked, Segment, load_folder
from academy.core.models import ContentTranslation
from academy.extensions import db
from academy.tabletop import engine
from academy.tabletop.scenario import Inject, Scenario

FOLDER = "translations"  # exercises/translations/<scenario-slug>/<tag>.po
KIND = "scenario"


@dataclass
class ScenarioTranslation:
    scenario: str
    tag: str
    checked: Checked


def scenario_segments(scenario: Scenario) -> list[Segment]:
    found = [
        Segment(f"scenario/{name}", getattr(scenario, name), "scenario") for name in ("title", "summary", "notice")
    ]
    for role in scenario.roles:
        unit = f"role/{role.code}"
        found += [Segment(f"{unit}/title", role.title, unit), Segment(f"{unit}/brief", role.brief, unit)]
    for inject in scenario.injects:
        found += inject_segments(inject)
    return found


def inject_segments(inject: Inject) -> list[Segment]:
    unit = f"inject/{inject.id}"
    found = [Segment(f"{unit}/title", inject.title, unit), Segment(f"{unit}/body", inject.body, unit)]
    for index, artefact in enumerate(inject.artefacts, start=1):
        for name in ("title", "source", "body"):
            found.append(Segment(f"{unit}/artefact/{index}/{name}", getattr(artefact, name), unit))
    if inject.decision is not None:
        found.append(Segment(f"{unit}/decision", inject.decision.prompt, unit))
        for option in inject.decision.options:
            found.append(Segment(f"{unit}/option/{option.id}", option.text, unit))
            found.append(Segment(f"{unit}/option/{option.id}/consequence", option.consequence, unit))
    return found


def load_translations(folder: Path, scenarios: list[Scenario], problems: Problems) -> list[ScenarioTranslation]:
    """Read and check exercises/translations/<slug>/*.po against their scenarios; sr-Cyrl brings its sr-Latn twin."""
    root = folder / FOLDER
    if not root.is_dir():
        return []
    by_slug = {scenario.slug: scenario for scenario in scenarios}
    found = []
    for scenario_dir in sorted(root.iterdir()):
        display_dir = scenario_dir.relative_to(folder.parent).as_posix()
        if scenario_dir.name.startswith("."):
            continue
        if not scenario_dir.is_dir() or scenario_dir.name not in by_slug:
            problems.add(display_dir, 1, "translations of an unknown scenario: folders are named as the scenario files")
            continue
        segments = scenario_segments(by_slug[scenario_dir.name])
        found += [
            ScenarioTranslation(scenario_dir.name, tag, checked)
            for tag, checked, _source in load_folder(
                scenario_dir, segments, lambda path: path.relative_to(folder.parent).as_posix(), problems
            )
        ]
    return found


def translated_rows(translations: list[ScenarioTranslation]) -> list[dict]:
    """Per scenario and language: its current segments, by context and English, and its coverage."""
    rows: list[dict] = []
    for translation in translations:
        checked = translation.checked
        review = {
            "locale": translation.tag,
            "key": translation.scenario,
            "status": checked.file.status,
            "reviewed_by": checked.file.reviewed_by,
            "reviewed_on": checked.file.reviewed_on,
        }
        title = next((text for (context, _), text in checked.current.items() if context == "scenario/title"), None)
        rows.append(
            {**review, "kind": KIND, "fields": {"segments": checked.flat(), "units": sorted(checked.units_done)}}
        )
        share = round(checked.translated / max(checked.segments, 1), 4)
        rows.append(
            {
                **review,
                "kind": "coverage-scenario",
                "fields": {"share": share, "segments": checked.segments, "title": title or translation.scenario},
            }
        )
    return rows


class Localised:
    """A scenario's text in one language: what has a current translation, else the English."""

    def __init__(self, row: ContentTranslation | None, tag_wanted: str = locales.DEFAULT):
        self.tag_wanted = tag_wanted  # the reader's language, which may have no translation at all
        self.segments: dict[str, str] = row.fields.get("segments", {}) if row is not None else {}
        self.is_draft = row is not None and row.is_draft
        self.tag = row.locale if row is not None else locales.DEFAULT

    def __bool__(self) -> bool:
        return bool(self.segments)

    def text(self, context: str, english: str) -> str:
        return self.segments.get(context + SEPARATOR + english, english)

    def has_inject(self, inject: Inject) -> bool:
        """Whether every segment of the inject, as this version says it, has a current translation."""
        return bool(self.segments) and all(
            segment.context + SEPARATOR + segment.source in self.segments for segment in inject_segments(inject)
        )

    def apply(self, inject: Inject) -> Inject:
        """The inject in this language when all of it has a current translation; else as written."""
        if not self.has_inject(inject):
            return inject
        unit = f"inject/{inject.id}"
        decision = inject.decision
        if decision is not None:
            decision = replace(
                decision,
                prompt=self.text(f"{unit}/decision", decision.prompt),
                options=[
                    replace(
                        option,
                        text=self.text(f"{unit}/option/{option.id}", option.text),
                        consequence=self.text(f"{unit}/option/{option.id}/consequence", option.consequence),
                    )
                    for option in decision.options
                ],
            )
        return replace(
            inject,
            title=self.text(f"{unit}/title", inject.title),
            body=self.text(f"{unit}/body", inject.body),
            artefacts=[
                replace(
                    artefact,
                    **{
                        name: self.text(f"{unit}/artefact/{index}/{name}", getattr(artefact, name))
                        for name in ("title", "source", "body")
                    },
                )
                for index, artefact in enumerate(inject.artefacts, start=1)
            ],
            decision=decision,
        )

    def title_of(self, scenario: Scenario, inject_id: str, english: str) -> str:
        """An inject's title as this language says it (an ad-hoc inject's, or one not translated whole: as given)."""
        inject = engine.inject_of(scenario, inject_id)
        return self.apply(inject).title if inject is not None else english

    def entry(self, scenario: Scenario, entry: dict) -> dict:
        """A role log entry (hub.decision_entry) with the inject's title and the option's text in this language."""
        inject = engine.inject_of(scenario, entry["inject_id"])
        if inject is None or not self.has_inject(inject):
            return entry
        shown = self.apply(inject)
        options = {
            option.text: mine.text
            for option, mine in zip(
                inject.decision.options if inject.decision else [],
                shown.decision.options if shown.decision else [],
                strict=True,
            )
        }
        return {
            **entry,
            "inject_title": shown.title,
            "option_text": options.get(entry["option_text"], entry["option_text"]),
        }

    def role(self, code: str, title: str, brief: str) -> tuple[str, str]:
        """A role's title and brief in this language, both or neither."""
        keys = (f"role/{code}/title{SEPARATOR}{title}", f"role/{code}/brief{SEPARATOR}{brief}")
        if all(key in self.segments for key in keys):
            return self.segments[keys[0]], self.segments[keys[1]]
        return title, brief


def localised(scenario_slug: str, tag: str) -> Localised:
    if tag == locales.DEFAULT:
        return Localised(None)
    row = db.session.scalar(
        db.select(ContentTranslation).where(
            ContentTranslation.kind == KIND, ContentTranslation.key == scenario_slug, ContentTranslation.locale == tag
        )
    )
    return Localised(row, tag)
