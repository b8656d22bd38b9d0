"""Reading exercises/ into plain dataclasses, checking every rule of its README with each error's file and line."""

from collections.abc import Collection
from pathlib import Path

from academy.core.content.fields import SLUG_RE, unknown_inline_sections
from academy.core.content.files import Problem, Problems, YamlDocument, load_with, parse_yaml, read_text, strings_at
from academy.tabletop import scenario as shape
from academy.tabletop.scenario import Scenario, reaches


def load_scenarios(folder: Path | str, module_slugs: Collection[str] | None) -> tuple[list[Scenario], list[Problem]]:
    """Read and check every scenario file; a scenario is returned only when its file has no error.

    `module_slugs` are the course modules that objectives and debrief questions may name; None when the
    course tree could not be read, so that its errors are not echoed here as unknown modules.
    """
    folder = Path(folder).resolve()
    problems = Problems()
    scenarios: list[Scenario] = []
    if not folder.is_dir():
        problems.add(folder.name, 1, "the scenario folder does not exist")
        return scenarios, problems.sorted()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == "README.md" or (path.name == "translations" and path.is_dir()):
            continue  # translations/: read by tabletop/translations.py
        display = path.relative_to(folder.parent).as_posix()
        if not (path.is_file() and path.suffix == ".yml"):
            problems.add(display, 1, "unexpected file: scenarios are <scenario-slug>.yml")
            continue
        before = len(problems.items)
        scenario = _ScenarioReader(path, display, problems, module_slugs).read()
        if scenario is not None and len(problems.items) == before:
            scenarios.append(scenario)
    return scenarios, problems.sorted()


class _ScenarioReader:
    """One scenario file: the schema first, then the rules that span its parts."""

    doc: YamlDocument  # the file as parsed, set by read() before any check runs

    def __init__(self, path: Path, display: str, problems: Problems, module_slugs: Collection[str] | None):
        self.path, self.display, self.problems, self.module_slugs = path, display, problems, module_slugs
        self.data: dict = {}

    def add(self, path: tuple, message: str) -> None:
        self.problems.add(self.display, self.doc.lines.line(path), message)

    def read(self) -> Scenario | None:
        text = read_text(self.path, self.display, self.problems)
        doc = None if text is None else parse_yaml(text, self.display, self.problems)
        if doc is None:
            return None
        self.doc = doc
        loaded, valid = load_with(shape.ScenarioSchema(), doc.data, doc, self.display, self.problems)
        self.data = shape.plain(loaded)  # a part that failed keeps its valid keys
        slug = self.data.get("slug")
        if slug and slug != self.path.stem:
            self.add(("slug",), f"slug '{slug}' does not match the file name '{self.path.name}'")
        roles = self._check_roles()
        objectives = self._check_objectives(roles)
        _InjectChecks(self, roles, objectives).run()
        self._check_modules()
        self._check_inline_sections(doc.data, ())
        return loaded if valid else None

    def unique(self, key: str, prefix: tuple, noun: str, where: str = "") -> set[str] | None:
        """The values of `key` in the list at `prefix`, reporting repeats; None if some item has none."""
        seen: set[str] = set()
        complete = True
        items = self.get(prefix)
        for index, item in enumerate(items):
            value = item.get(key)
            if value is None:
                complete = False
                continue
            if value in seen:
                self.add(prefix + (index, key), f"duplicate {noun} '{value}'{where}")
            seen.add(value)
        return seen if complete and self.has(prefix) else None

    def get(self, path: tuple) -> list[dict]:
        """The loaded list of mappings at `path` (items that failed the schema keep their valid part)."""
        data = _find(self.data, path)
        return data if isinstance(data, list) else []

    def raw(self, path: tuple) -> list:
        """The list at `path` as written, for the checks that must not depend on the schema accepting it."""
        data = _find(self.doc.data, path)
        return data if isinstance(data, list) else []

    def has(self, path: tuple) -> bool:
        return _find(self.data, path) is not None

    def _check_roles(self) -> set[str] | None:
        """The scenario's role codes, or None when they could not all be read (checks against them would echo)."""
        codes = self.unique("code", ("roles",), "role")
        if codes is not None:
            for core in shape.CORE_ROLES:
                if core not in codes:
                    self.add(
                        ("roles",),
                        f"the core role '{core}' is missing (every scenario has diplomat, cert and operator)",
                    )
        return codes

    def _check_objectives(self, roles: set[str] | None) -> set[str] | None:
        codes = self.unique("code", ("objectives",), "objective")
        for index, objective in enumerate(self.get(("objectives",))):
            role = objective.get("role")
            if roles is not None and role is not None and role not in roles:
                self.add(("objectives", index, "role"), f"role: '{role}' is not a role of this scenario")
        return codes

    def _check_modules(self) -> None:
        if self.module_slugs is None or not isinstance(self.doc.data, dict):
            return
        for key in ("objectives", "debrief"):
            items = self.doc.data.get(key)
            for index in range(len(items) if isinstance(items, list) else 0):
                for position, module in strings_at(self.doc.data, (key, index, "modules")):
                    if SLUG_RE.match(module) and module not in self.module_slugs:
                        self.add(
                            (key, index, "modules", position), f"modules[{position}]: unknown course module '{module}'"
                        )

    def _check_inline_sections(self, data: object, path: tuple) -> None:
        """Section references in running text (`see §4.5`) must exist too; `sections` lists have the schema."""
        if isinstance(data, dict):
            for key, value in data.items():
                if key != "sections":
                    self._check_inline_sections(value, path + (key,))
        elif isinstance(data, list):
            for index, value in enumerate(data):
                self._check_inline_sections(value, path + (index,))
        elif isinstance(data, str):
            for ref in unknown_inline_sections(data):
                self.add(path, f"{_label(path)}: unknown section reference '{ref}'")


class _InjectChecks:
    """The rules that tie injects to each other, to the roles and to the objectives."""

    def __init__(self, reader: _ScenarioReader, roles: set[str] | None, objectives: set[str] | None):
        self.reader, self.roles, self.objectives = reader, roles, objectives
        self.injects = reader.get(("injects",))
        self.ids = reader.unique("id", ("injects",), "inject")
        self.by_id = {inject["id"]: inject for inject in self.injects if "id" in inject}
        self.unlocks: dict[str, set[str]] = {}  # inject id -> the follow-ups its options unlock
        self.scored: set[str] = set()  # objective codes that some option scores

    def run(self) -> None:
        duration = self.reader.data.get("duration_minutes")
        for index, inject in enumerate(self.injects):
            offset = inject.get("offset")
            if isinstance(offset, int) and isinstance(duration, int) and offset > duration:
                self.reader.add(
                    ("injects", index, "offset"),
                    f"offset: minute {offset} is after the end of the exercise ({duration} minutes)",
                )
            self._check_audience(index, inject)
            self._check_options(index, inject)
        self._check_follow_ups()
        self._check_objectives_scored()
        self._check_core_roles()

    def _check_audience(self, index: int, inject: dict) -> None:
        if self.roles is None or not isinstance(inject.get("audience"), list):
            return
        for position, code in strings_at(self.reader.doc.data, ("injects", index, "audience")):
            if code not in self.roles:
                self.reader.add(
                    ("injects", index, "audience", position),
                    f"audience[{position}]: '{code}' is not a role of this scenario",
                )

    def _check_options(self, index: int, inject: dict) -> None:
        prefix = ("injects", index, "decision", "options")
        self.reader.unique("id", prefix, "option", " in this decision")
        # As written: an option list the schema refused must not turn into "follow-up never unlocked" echoes.
        for position, option in enumerate(self.reader.raw(prefix)):
            scores = option.get("scores") if isinstance(option, dict) else None
            for code, points in scores.items() if isinstance(scores, dict) else ():
                self.scored.add(code)
                path = prefix + (position, "scores", code)
                if self.objectives is not None and code not in self.objectives:
                    self.reader.add(path, f"scores: unknown objective '{code}'")
                if isinstance(points, bool) or not isinstance(points, int) or not -3 <= points <= 3:
                    self.reader.add(path, f"scores: '{code}' must be a whole number from -3 to 3, found {points!r}")
            for item, target in strings_at(self.reader.doc.data, prefix + (position, "unlocks")):
                self._check_unlock(prefix + (position, "unlocks", item), inject, target)

    def _check_unlock(self, path: tuple, inject: dict, target: str) -> None:
        follow_up = self.by_id.get(target)
        if follow_up is not None and "id" in inject:
            self.unlocks.setdefault(inject["id"], set()).add(target)
        if follow_up is None:
            if self.ids is not None:
                self.reader.add(path, f"unlocks: unknown inject '{target}'")
        elif follow_up is inject:
            self.reader.add(path, "unlocks: an inject cannot unlock itself")
        elif follow_up.get("follow_up") is False:
            self.reader.add(path, f"unlocks: inject '{target}' is not a follow-up (it needs follow_up: true)")
        elif (
            isinstance(follow_up.get("offset"), int)
            and isinstance(inject.get("offset"), int)
            and follow_up["offset"] < inject["offset"]
        ):
            self.reader.add(
                path,
                f"unlocks: follow-up '{target}' (minute {follow_up['offset']}) comes before "
                f"this inject (minute {inject['offset']})",
            )

    def _check_follow_ups(self) -> None:
        released = {inject["id"] for inject in self.injects if inject.get("follow_up") is False and "id" in inject}
        frontier = list(released)
        while frontier:
            for target in self.unlocks.get(frontier.pop(), ()):
                if target not in released:
                    released.add(target)
                    frontier.append(target)
        unlocked = set().union(*self.unlocks.values())
        for index, inject in enumerate(self.injects):
            name = inject.get("id")
            if inject.get("follow_up") is not True or name is None or name in released:
                continue
            message = (
                "is not unlocked by any option"
                if name not in unlocked
                else "is unlocked only by follow-ups that are never released"
            )
            self.reader.add(("injects", index, "id"), f"follow-up '{name}' {message}")

    def _check_objectives_scored(self) -> None:
        for index, objective in enumerate(self.reader.get(("objectives",)) if self.reader.has(("injects",)) else ()):
            code = objective.get("code")
            if code is not None and code not in self.scored:
                self.reader.add(("objectives", index, "code"), f"objective '{code}' is not scored by any option")

    def _check_core_roles(self) -> None:
        if (
            self.roles is None
            or not self.reader.has(("injects",))
            or not all("audience" in inject for inject in self.injects)
        ):
            return
        for index, role in enumerate(self.reader.get(("roles",))):
            code = role["code"]
            if code not in shape.CORE_ROLES:
                continue
            seen = [inject for inject in self.injects if reaches(inject["audience"], code)]
            decisions = sum(1 for inject in seen if inject.get("decision"))
            if len(seen) < shape.MIN_INJECTS_SEEN:
                self.reader.add(
                    ("roles", index, "code"),
                    f"role '{code}' sees {len(seen)} injects; a core role must see at least {shape.MIN_INJECTS_SEEN}",
                )
            if decisions < shape.MIN_DECISIONS:
                self.reader.add(
                    ("roles", index, "code"),
                    f"role '{code}' faces {decisions} decisions; a core role must face at least {shape.MIN_DECISIONS}",
                )


def _find(data: object, path: tuple) -> object:
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def _label(path: tuple) -> str:
    """`criteria[1]` for an item of a list under a key, `body` for a key."""
    label = ""
    for part in path:
        label = f"{label}[{part}]" if isinstance(part, int) else str(part)
    return label
