"""Property tests of the scenario loader: generated scenarios load exactly as written; broken ones only ever give
clear `file:line: message` errors, and syncing a broken one writes nothing."""
import copy
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from academy.core.content.sections import SECTIONS
from academy.extensions import db
from academy.learning import models as learning_models
from academy.tabletop import models
from academy.tabletop import scenario as shape
from academy.tabletop.scenario import reaches
from academy.tabletop.scenario_files import load_scenarios
from academy.tabletop.scenario_sync import sync_scenarios
from tests.content_fixture import ContentFolder
from tests.yaml_mutations import (
    ERROR_LINE,
    UNSTORABLE,
    assert_clear,
    broken_data,
    dump,
    garbled,
    replaced,
    stretched,
    walk,
)

MODULES = ("first-module",)  # the module of the fixture course that scenarios may name
SLUGS = st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)
SECTION_LISTS = st.lists(st.sampled_from(sorted(SECTIONS)), min_size=1, max_size=3, unique=True)
# Any text but a section sign (it would cite a section), NUL and lone surrogates (nothing stores them).
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="§\x00"), min_size=1, max_size=16)
TEXT = st.one_of(ANY_TEXT, st.tuples(ANY_TEXT, st.sampled_from(sorted(SECTIONS))).map(" ".join)).filter(str.strip)
OPTIONAL = frozenset({"artefacts", "decision", "follow_up", "options", "unlocks"})
KNOWN = frozenset(name for part in shape.PARTS for name in shape.schema_of(part)().fields)
# Examples share the test's app and database on purpose: each leaves them as it found them.
SHARED_APP = settings(suppress_health_check=[*settings.default.suppress_health_check,
                                             HealthCheck.function_scoped_fixture])


# --- Valid scenarios --------------------------------------------------------------------------

def maybe(draw, mapping: dict, key: str, value, default) -> None:
    """Write a key that has a default, or leave it out when it holds the default."""
    if value != default or draw(st.booleans()):
        mapping[key] = value


@st.composite
def options(draw, objectives: list[str], words) -> list[dict]:
    ids = draw(st.lists(SLUGS, min_size=2, max_size=3, unique=True))
    found = []
    for option_id in ids:
        scored = draw(st.lists(st.sampled_from(objectives), unique=True, max_size=2))
        option = {"id": option_id, "text": draw(words), "scores": {code: draw(st.integers(-3, 3)) for code in scored},
                  "consequence": draw(words)}
        maybe(draw, option, "unlocks", [], [])
        found.append(option)
    return found


@st.composite
def injects(draw, inject_id: str, offset: int, roles: list[str], objectives: list[str], choices: bool,
            words) -> dict:
    audience = draw(st.one_of(st.sampled_from(shape.AUDIENCE_WORDS),
                              st.lists(st.sampled_from(roles), min_size=1, unique=True)))
    inject = {"id": inject_id, "offset": offset, "phase": draw(st.sampled_from(shape.PHASES)),
              "title": draw(words), "audience": audience, "body": draw(words)}
    artefacts = draw(st.lists(st.fixed_dictionaries({
        "kind": st.sampled_from(shape.ARTEFACT_KINDS), "title": words, "source": words, "body": words}),
        max_size=2))
    maybe(draw, inject, "artefacts", artefacts, [])
    if choices or draw(st.booleans()):
        inject["decision"] = {"prompt": draw(words)}
        if choices or draw(st.booleans()):  # else a free-text decision, without options
            inject["decision"]["options"] = draw(options(objectives, words))
    maybe(draw, inject, "follow_up", False, False)
    inject["facilitator"] = {"notes": draw(words), "expected_actions": draw(st.lists(words, min_size=1, max_size=2)),
                             "sections": draw(SECTION_LISTS)}
    return inject


def _options_of(inject: dict) -> list[dict]:
    return (inject.get("decision") or {}).get("options", [])


def _cover_core_roles(found: list[dict], duration: int, ids) -> None:
    """Add injects until each core role sees 4 and decides 3 (shape.MIN_INJECTS_SEEN, MIN_DECISIONS)."""
    for role in shape.CORE_ROLES:
        seen = [inject for inject in found if reaches(inject["audience"], role)]
        decisions = sum(1 for inject in seen if inject.get("decision"))
        for _ in range(max(shape.MIN_INJECTS_SEEN - len(seen), shape.MIN_DECISIONS - decisions)):
            found.append({"id": next(ids), "offset": duration, "phase": "recovery", "title": "Wrap up",
                          "audience": [role], "body": "What now?", "decision": {"prompt": "What do you do?"},
                          "facilitator": {"notes": "Listen.", "expected_actions": ["Decide"], "sections": ["§1"]}})


@st.composite
def scenarios(draw) -> dict:
    """A scenario that meets every rule of exercises/README.md, as its file's data."""
    slug, duration = draw(SLUGS), draw(st.integers(60, 120))
    # Texts drawn from a few arbitrary ones: as varied, and much faster to generate than one for every field.
    words = st.sampled_from(draw(st.lists(TEXT, min_size=1, max_size=8)))
    others = draw(st.lists(st.sampled_from([code for code in shape.ROLE_CODES
                                            if code not in shape.CORE_ROLES]), unique=True))
    roles = draw(st.permutations([*shape.CORE_ROLES, *others]))
    count = draw(st.integers(shape.MIN_INJECTS, shape.MIN_INJECTS + 3))
    names = draw(st.lists(SLUGS, min_size=count + 15, max_size=count + 15, unique=True))
    objectives = [{"code": code, "role": draw(st.sampled_from(roles)), "title": draw(words),
                   "criteria": draw(st.lists(words, min_size=1, max_size=2)),
                   "modules": list(MODULES)} for code in names[:draw(st.integers(1, 3))]]
    codes = [objective["code"] for objective in objectives]
    offsets = sorted(draw(st.lists(st.integers(0, duration), min_size=count, max_size=count)))
    ids = iter(names[3:])  # after the objective codes: inject ids are unique across both
    found = [draw(injects(next(ids), offset, roles, codes, index == 0, words)) for index, offset in enumerate(offsets)]
    for later, inject in enumerate(found[1:], start=1):
        unlockers = [earlier for earlier in found[:later] if _options_of(earlier) and not earlier.get("follow_up")]
        if unlockers and draw(st.integers(0, 3)) == 0:
            option = draw(st.sampled_from(_options_of(draw(st.sampled_from(unlockers)))))
            option["unlocks"] = [*option.get("unlocks", []), inject["id"]]
            inject["follow_up"] = True
    for code in codes:  # every objective is scored by some option
        if not any(code in option["scores"] for inject in found for option in _options_of(inject)):
            draw(st.sampled_from(_options_of(found[0])))["scores"][code] = draw(st.integers(-3, 3))
    _cover_core_roles(found, duration, ids)
    return {"slug": slug, "title": draw(words), "summary": draw(words), "duration_minutes": duration,
            "audience": draw(words), "sections": draw(SECTION_LISTS), "notice": draw(words),
            "roles": [{"code": code, "title": draw(words), "brief": draw(words)} for code in roles],
            "objectives": objectives, "injects": found,
            "debrief": draw(st.lists(st.fixed_dictionaries({"question": words, "modules": st.just(list(MODULES))}),
                                     min_size=1, max_size=2))}


def definition(written: dict) -> dict:
    """What loading a written scenario gives: the file's data with every default filled in."""
    data = copy.deepcopy(written)
    for inject in data["injects"]:
        inject.setdefault("artefacts", [])
        inject.setdefault("follow_up", False)
        inject.setdefault("decision", None)
        if inject["decision"] is not None:
            inject["decision"].setdefault("options", [])
            for option in inject["decision"]["options"]:
                option.setdefault("unlocks", [])
    return data


def write(files: dict, root: Path) -> Path:
    """Write exercises/ (files: name -> data or bytes) beside the fixture courses/ tree."""
    ContentFolder(root)
    folder = root / "exercises"
    folder.mkdir()
    (folder / "README.md").write_text("# Scenarios\n", encoding="utf-8")
    for name, data in files.items():
        (folder / name).write_bytes(data if isinstance(data, bytes) else dump(data).encode("utf-8"))
    return folder


@pytest.mark.no_database
@given(scenarios())
def test_a_generated_scenario_loads_as_written(written):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write({f"{written['slug']}.yml": written}, Path(tmp))
        loaded, problems = load_scenarios(folder, MODULES)
    assert problems == []
    [scenario] = loaded
    assert scenario.to_definition() == definition(written)
    assert [role.code for role in scenario.roles] == [role["code"] for role in written["roles"]]
    assert [(inject.id, inject.offset) for inject in scenario.injects] == [
        (inject["id"], inject["offset"]) for inject in written["injects"]]


@SHARED_APP
@given(scenarios())
def test_a_generated_scenario_syncs_as_loaded(app, written):
    try:
        with tempfile.TemporaryDirectory() as tmp:
            counts = sync_scenarios(write({f"{written['slug']}.yml": written}, Path(tmp)), MODULES)
        assert counts["created"] == 1
        row = db.session.scalar(db.select(models.Scenario))
        assert (row.slug, row.title, row.duration_minutes) == (written["slug"], written["title"],
                                                               written["duration_minutes"])
        assert row.current_version.number == 1
        assert row.current_version.definition == definition(written)
    finally:
        db.session.rollback()  # sync only flushes: the next example starts from an empty database again


# --- Broken scenarios -------------------------------------------------------------------------

@st.composite
def broken_rules(draw, written: dict) -> dict:
    """A scenario that breaks one rule the checker enforces across its parts; always refused."""
    data = copy.deepcopy(written)
    injects, rule = data["injects"], draw(st.sampled_from([
        "late", "score", "unlock", "audience", "same-id", "core-role", "stray-follow-up", "too-few", "module",
        "section"]))
    inject = draw(st.sampled_from(injects))
    if rule == "late":
        inject["offset"] = data["duration_minutes"] + draw(st.integers(1, 1000))
    elif rule == "score":
        option = draw(st.sampled_from(_options_of(injects[0])))
        option["scores"][draw(st.sampled_from([o["code"] for o in data["objectives"]]))] = draw(
            st.one_of(st.integers(4, 1000), st.integers(-1000, -4)))
    elif rule == "unlock":
        option = draw(st.sampled_from(_options_of(injects[0])))
        ids = {each["id"] for each in injects}
        option["unlocks"] = [*option.get("unlocks", []), draw(SLUGS.filter(lambda slug: slug not in ids))]
    elif rule == "audience":
        present = {role["code"] for role in data["roles"]}
        inject["audience"] = [draw(st.text(min_size=1, max_size=12).filter(lambda code: code not in present))]
    elif rule == "same-id":
        first, second = draw(st.lists(st.sampled_from(range(len(injects))), min_size=2, max_size=2, unique=True))
        injects[second]["id"] = injects[first]["id"]
    elif rule == "core-role":
        core = draw(st.sampled_from(shape.CORE_ROLES))
        data["roles"] = [role for role in data["roles"] if role["code"] != core]
    elif rule == "stray-follow-up":
        unlocked = {target for i in injects for option in _options_of(i) for target in option.get("unlocks", [])}
        candidates = [i for i in injects if i["id"] not in unlocked]
        draw(st.sampled_from(candidates))["follow_up"] = True
    elif rule == "too-few":
        data["injects"] = injects[:draw(st.integers(0, shape.MIN_INJECTS - 1))]
    elif rule == "module":
        objective = draw(st.sampled_from(data["objectives"]))
        objective["modules"] = [*objective["modules"], draw(SLUGS.filter(lambda s: s not in MODULES))]
    else:
        inject["body"] += draw(st.sampled_from([" (§9.9)", " §4.99", " see §0"]))
    return data


@st.composite
def broken_scenarios(draw, refused_only: bool = False) -> tuple[dict, bool]:
    """A generated scenario broken in one way: ({file name: data or bytes}, whether it must be refused)."""
    written = draw(scenarios())
    name = f"{written['slug']}.yml"
    how = draw(st.sampled_from(["schema", "rule", "stretch", "bytes", "file"]))
    if refused_only and how in ("stretch", "bytes"):
        how = "schema"
    if how == "schema":
        change = draw(broken_data(written, OPTIONAL, KNOWN, nullable=frozenset({"decision"})))
        return {name: replaced(written, *change)}, True
    if how == "rule":
        return {name: draw(broken_rules(written))}, True
    if how == "stretch":
        return {name: replaced(written, *draw(stretched(written)))}, False
    if how == "bytes":
        return {name: draw(garbled(dump(written)))[0]}, False
    # A file whose name is not its slug, or a file that is not a scenario.
    stray = draw(st.sampled_from([f"{draw(SLUGS.filter(lambda s: s != written['slug']))}.yml", "notes.txt"]))
    return {stray: written}, True


@pytest.mark.no_database
@given(broken_scenarios())
def test_a_broken_scenario_gives_clear_errors_and_never_raises(case):
    files, refused = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(files, Path(tmp))
        loaded, problems = load_scenarios(folder, MODULES)
        assert_clear(problems, folder.parent, "exercises")
    if refused:
        assert problems and not loaded
        assert {problem.path for problem in problems} <= {f"exercises/{name}" for name in files}
    for scenario in loaded:  # what is accepted, the database can hold
        assert len(scenario.slug) <= 80 and len(scenario.title) <= 200
        texts = [value for _, value in walk(scenario.to_definition()) if isinstance(value, str)]
        assert not any(UNSTORABLE.search(text) for text in texts)


@SHARED_APP
@given(broken_scenarios(refused_only=True))
def test_syncing_a_broken_scenario_prints_its_errors_and_writes_nothing(app, runner, case):
    files, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(files, Path(tmp))
        result = runner.invoke(args=["content", "sync", "--path", str(folder.parent / "courses"),
                                     "--exercises", str(folder)])
    assert result.exit_code == 1 and type(result.exception) is SystemExit, result.output
    lines = result.stdout.split("\n")[:-1]
    assert lines and all(ERROR_LINE.fullmatch(line) for line in lines), result.stdout
    assert all(line.startswith("exercises/") for line in lines), result.stdout
    for model in (models.Scenario, models.ScenarioVersion, learning_models.Course, learning_models.ContentRelease):
        assert db.session.scalar(db.select(db.func.count()).select_from(model)) == 0
