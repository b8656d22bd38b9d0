"""`flask content check` over exercises/: the fixture scenario passes; each broken rule gives its file and line."""
from pathlib import Path

import pytest

from academy.config import COURSES_DIR, EXERCISES_DIR
from academy.extensions import db
from academy.learning.content import load_content
from academy.tabletop.models import Scenario, ScenarioVersion
from academy.tabletop.scenario_files import load_scenarios
from tests.tabletop.scenario_fixture import SCENARIO as S

ROLE_LIST = "diplomat, cert, operator, policy, law_enforcement, communications"
KIND_LIST = "alert, email, call, news, social, letter, log, report"
REAL_SCENARIOS = sorted(path.name for path in EXERCISES_DIR.glob("*.yml"))


def test_fixture_scenario_passes(check):
    code, lines = check()
    assert code == 0, lines
    assert lines == ["1 courses, 1 modules, 2 lessons, 8 questions, 1 scenarios: OK"]


def test_fixture_scenario_loads_as_dataclasses(exercises):
    scenarios, problems = load_scenarios(exercises.folder, {"first-module"})
    assert problems == []
    [scenario] = scenarios
    assert (scenario.slug, scenario.duration_minutes, len(scenario.injects)) == ("fixture-scenario", 60, 12)
    assert [role.code for role in scenario.roles] == ["diplomat", "cert", "operator"]
    first = scenario.injects[0]
    assert first.artefacts[0].kind == "alert"
    assert first.decision.options[0].scores == {"cert-share": 3}
    assert first.decision.options[0].unlocks == ["neighbour-confirms"]
    assert scenario.injects[5].decision.options == []  # a free-text-only decision
    assert scenario.injects[3].follow_up and not first.follow_up
    assert len(scenario.content_hash) == 64


def test_path_alone_reads_that_course_folder_alone(runner, courses):
    """The repository's scenarios name the repository's modules: another course folder is read by itself."""
    result = runner.invoke(args=["content", "check", "--path", str(courses.folder)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["1 courses, 1 modules, 2 lessons, 8 questions: OK"]


@pytest.fixture(scope="module")
def real_problems():
    tree = load_content(COURSES_DIR)
    _, problems = load_scenarios(EXERCISES_DIR, {module.slug for module in tree.modules})
    return [str(problem) for problem in problems]


@pytest.mark.parametrize("name", REAL_SCENARIOS)
def test_real_scenarios_pass(real_problems, name):
    errors = [line for line in real_problems if line.startswith(f"exercises/{name}:")]
    assert errors == [], "\n".join(errors)


# Each case breaks the valid fixture scenario in one place and returns the error line it must produce.
def remove_inject(c, inject_id: str) -> None:
    text = c.read(S)
    start = text.index(f"  - id: {inject_id}\n")
    end = min(index for index in (text.find("  - id: ", start + 1), text.find("\ndebrief:")) if index > 0)
    c.write(S, text[:start] + text[end:])


def yaml_syntax(c):
    line = c.edit(S, "title: A small scenario", "title: A: small scenario")
    return c.error(S, line, "YAML syntax error: mapping values are not allowed here")


def duplicate_yaml_key(c):
    line = c.edit(S, "duration_minutes: 60", "duration_minutes: 60\nduration_minutes: 90") + 1
    return c.error(S, line, "duplicate key 'duration_minutes'")


def not_a_mapping(c):
    c.write(S, "- one\n- two\n")
    return c.error(S, 1, "expected a mapping of keys to values")


def empty_file(c):
    c.write(S, "# nothing yet\n")
    return c.error(S, 1, "the file is empty")


def unexpected_file(c):
    c.write("notes.yaml", "slug: notes\n")
    return c.error("notes.yaml", 1, "unexpected file: scenarios are <scenario-slug>.yml")


def unknown_key(c):
    line = c.edit(S, "notice: EXERCISE.", "colour: red\nnotice: EXERCISE.")
    return c.error(S, line, "unknown key 'colour'")


def unknown_key_in_inject(c):
    line = c.edit(S, "    follow_up: true\n", "    follow_up: true\n    priority: high\n") + 1
    return c.error(S, line, "unknown key 'priority'")


def missing_key(c):
    c.edit(S, "    body: A news site reports the outage.\n", "")
    return c.error(S, c.line(S, "- id: news-report"), "missing required key 'body'")


def slug_not_file_name(c):
    line = c.edit(S, "slug: fixture-scenario", "slug: other-scenario")
    return c.error(S, line, "slug 'other-scenario' does not match the file name 'fixture-scenario.yml'")


def bad_slug(c):
    c.write("Fixture_Scenario.yml", c.read(S).replace("slug: fixture-scenario", "slug: Fixture_Scenario"))
    c.remove(S)
    return c.error("Fixture_Scenario.yml", 1,
                   "slug: bad slug 'Fixture_Scenario': use lower-case words joined by hyphens")


def duration_under_60(c):
    line = c.edit(S, "duration_minutes: 60", "duration_minutes: 59")
    return c.error(S, line, "duration_minutes: must be between 60 and 120")


def duration_over_120(c):
    line = c.edit(S, "duration_minutes: 60", "duration_minutes: 121")
    return c.error(S, line, "duration_minutes: must be between 60 and 120")


def fewer_than_12_injects(c):
    remove_inject(c, "minister-briefing")
    return c.error(S, c.line(S, "injects:"), "injects: needs at least 12 injects, found 11")


def duplicate_inject_id(c):
    line = c.edit(S, "- id: wrap-up", "- id: minister-briefing")
    return c.error(S, line, "duplicate inject 'minister-briefing'")


def bad_inject_id(c):
    line = c.edit(S, "- id: wrap-up", "- id: Wrap_Up")
    return c.error(S, line, "id: bad slug 'Wrap_Up': use lower-case words joined by hyphens")


def duplicate_objective_code(c):
    line = c.edit(S, "code: op-keep-running", "code: cert-share")
    return c.error(S, line, "duplicate objective 'cert-share'")


def duplicate_option_id(c):
    line = c.edit(S, "- id: wait", "- id: call-neighbour")
    return c.error(S, line, "duplicate option 'call-neighbour' in this decision")


def duplicate_role_code(c):
    line = c.edit(S, "  - code: operator\n", "  - code: cert\n    title: A second CERT\n    brief: Again.\n"
                                             "  - code: operator\n")
    return c.error(S, line, "duplicate role 'cert'")


def unknown_role_code(c):
    line = c.edit(S, "  - code: operator\n", "  - code: pilot\n")
    return c.error(S, line, f"code: unknown role 'pilot' (expected one of: {ROLE_LIST})")


def core_role_missing(c):
    c.edit(S, "  - code: operator\n", "  - code: communications\n")
    return c.error(S, c.line(S, "roles:"),
                   "the core role 'operator' is missing (every scenario has diplomat, cert and operator)")


def audience_names_a_role_not_in_the_scenario(c):
    line = c.edit(S, "audience: [diplomat, operator]\n    body: A news",
                  "audience: [diplomat, policy]\n    body: A news")
    return c.error(S, line, "audience[1]: 'policy' is not a role of this scenario")


def audience_neither_word_nor_list(c):
    line = c.edit(S, "audience: participant", "audience: everyone")
    return c.error(S, line, 'audience: expected "all", "participant" or a list of role codes')


def offset_after_the_end(c):
    line = c.edit(S, "offset: 60", "offset: 61")
    return c.error(S, line, "offset: minute 61 is after the end of the exercise (60 minutes)")


def offset_negative(c):
    line = c.edit(S, "offset: 0\n", "offset: -5\n")
    return c.error(S, line, "offset: must be at least 0")


def unknown_phase(c):
    line = c.edit(S, "phase: recovery", "phase: aftermath")
    return c.error(S, line, "phase: unknown phase 'aftermath' (expected one of: detection, spread, crisis, recovery)")


def unknown_artefact_kind(c):
    line = c.edit(S, "kind: news", "kind: fax")
    return c.error(S, line, f"kind: unknown artefact kind 'fax' (expected one of: {KIND_LIST})")


def score_for_unknown_objective(c):
    line = c.edit(S, "scores: {cert-share: -1}", "scores: {cert-shares: -1}")
    return c.error(S, line, "scores: unknown objective 'cert-shares'")


def score_out_of_range(c):
    line = c.edit(S, "scores: {cert-share: 3}", "scores: {cert-share: 4}")
    return c.error(S, line, "scores: 'cert-share' must be a whole number from -3 to 3, found 4")


def score_not_a_number(c):
    line = c.edit(S, "scores: {cert-share: 3}", "scores: {cert-share: high}")
    return c.error(S, line, "scores: 'cert-share' must be a whole number from -3 to 3, found 'high'")


def one_option_only(c):
    c.edit(S, "        - id: wait\n          text: Wait for more certainty\n          scores: {cert-share: -1}\n"
              "          consequence: Two hours pass.\n", "")
    return c.error(S, c.line(S, "options:"), "options: needs at least 2 options, found 1")


def unlocks_unknown_inject(c):
    line = c.edit(S, "unlocks: [neighbour-confirms]", "unlocks: [neighbour-confirmed]")
    return c.error(S, line, "unlocks: unknown inject 'neighbour-confirmed'")


def unlocks_an_inject_that_is_not_a_follow_up(c):
    line = c.edit(S, "unlocks: [neighbour-confirms]", "unlocks: [neighbour-confirms, bank-call]")
    return c.error(S, line, "unlocks: inject 'bank-call' is not a follow-up (it needs follow_up: true)")


def unlocks_an_earlier_inject(c):
    c.edit(S, "offset: 0\n", "offset: 12\n")
    return c.error(S, c.line(S, "unlocks: [neighbour-confirms]"),
                   "unlocks: follow-up 'neighbour-confirms' (minute 10) comes before this inject (minute 12)")


def follow_up_never_unlocked(c):
    c.edit(S, "          unlocks: [neighbour-confirms]\n", "")
    return c.error(S, c.line(S, "- id: neighbour-confirms"),
                   "follow-up 'neighbour-confirms' is not unlocked by any option")


def objective_role_not_in_the_scenario(c):
    line = c.edit(S, "role: operator", "role: communications")
    return c.error(S, line, "role: 'communications' is not a role of this scenario")


def objective_not_scored(c):
    c.edit(S, "\ninjects:", "  - code: dip-unscored\n    role: diplomat\n    title: Never scored\n"
                             "    criteria: [Nothing]\n    modules: [first-module]\n\ninjects:")
    return c.error(S, c.line(S, "code: dip-unscored"), "objective 'dip-unscored' is not scored by any option")


def core_role_sees_too_few(c):
    c.edit(S, "audience: [cert]\n", "audience: [diplomat]\n")
    return c.error(S, c.line(S, "- code: cert"), "role 'cert' sees 3 injects; a core role must see at least 4")


def participant_counts_for_no_role(c):
    c.edit(S, "audience: [cert]\n", "audience: participant\n")
    return c.error(S, c.line(S, "- code: cert"), "role 'cert' sees 3 injects; a core role must see at least 4")


def core_role_faces_too_few_decisions(c):
    c.edit(S, "    decision:\n      prompt: What do you change for next time?\n", "")
    return c.error(S, c.line(S, "- code: cert"), "role 'cert' faces 2 decisions; a core role must face at least 3")


def unknown_section(c):
    line = c.edit(S, 'sections: ["§1", "§3.3"]', 'sections: ["§1", "§9.9"]')
    return c.error(S, line, "sections[1]: unknown section reference '§9.9'")


def malformed_section_for_facilitator(c):
    line = c.edit(S, 'sections: ["§3.3"]', 'sections: ["3.3"]')
    return c.error(S, line, "sections[0]: unknown section reference '3.3' (write §N, §N.N or §N.N.N)")


def unknown_section_in_text(c):
    line = c.edit(S, "body: The bank asks for help.", "body: The bank asks for help (§4.9).")
    return c.error(S, line, "body: unknown section reference '§4.9'")


def unknown_module_in_objective(c):
    line = c.edit(S, "modules: [first-module]", "modules: [first-module, no-such-module]")
    return c.error(S, line, "modules[1]: unknown course module 'no-such-module'")


def unknown_module_in_debrief(c):
    line = c.edit(S, "and why?\n    modules: [first-module]", "and why?\n    modules: [second-module]") + 1
    return c.error(S, line, "modules[0]: unknown course module 'second-module'")


CASES = [
    yaml_syntax, duplicate_yaml_key, not_a_mapping, empty_file, unexpected_file, unknown_key, unknown_key_in_inject,
    missing_key, slug_not_file_name, bad_slug, duration_under_60, duration_over_120, fewer_than_12_injects,
    duplicate_inject_id, bad_inject_id, duplicate_objective_code, duplicate_option_id, duplicate_role_code,
    unknown_role_code, core_role_missing, audience_names_a_role_not_in_the_scenario, audience_neither_word_nor_list,
    offset_after_the_end, offset_negative, unknown_phase, unknown_artefact_kind, score_for_unknown_objective,
    score_out_of_range, score_not_a_number, one_option_only, unlocks_unknown_inject,
    unlocks_an_inject_that_is_not_a_follow_up, unlocks_an_earlier_inject, follow_up_never_unlocked,
    objective_role_not_in_the_scenario, objective_not_scored, core_role_sees_too_few, participant_counts_for_no_role,
    core_role_faces_too_few_decisions, unknown_section, malformed_section_for_facilitator, unknown_section_in_text,
    unknown_module_in_objective, unknown_module_in_debrief,
]


@pytest.mark.parametrize("breaks", CASES, ids=[case.__name__ for case in CASES])
def test_each_error_is_reported_with_file_and_line(exercises, check, breaks):
    expected = breaks(exercises)
    code, lines = check()
    assert code == 1
    assert expected in lines, "\n".join(lines)


@pytest.mark.parametrize("breaks", [score_out_of_range, core_role_sees_too_few, unlocks_an_earlier_inject,
                                    offset_after_the_end, unknown_module_in_debrief])
def test_one_mistake_gives_one_error(exercises, check, breaks):
    expected = breaks(exercises)
    code, lines = check()
    assert (code, lines) == (1, [expected, "1 error(s); nothing was written."])


def test_a_follow_up_released_only_by_itself_is_never_released(exercises, check):
    exercises.edit(S, "          unlocks: [neighbour-confirms]\n", "")
    exercises.edit(S, "    follow_up: true\n", """\
    follow_up: true
    decision:
      prompt: Now what?
      options:
        - id: again
          text: Again
          scores: {cert-share: 1}
          consequence: Loop.
          unlocks: [neighbour-confirms]
        - id: stop
          text: Stop
          scores: {}
          consequence: End.
""")
    code, lines = check()
    assert code == 1
    assert lines[:2] == [
        exercises.error(S, exercises.line(S, "- id: neighbour-confirms"),
                        "follow-up 'neighbour-confirms' is unlocked only by follow-ups that are never released"),
        exercises.error(S, exercises.line(S, "          unlocks: [neighbour-confirms]"),
                        "unlocks: an inject cannot unlock itself"),
    ]


def test_all_errors_of_both_trees_are_reported_at_once(courses, exercises, check):
    lesson = "intro-course/lessons/first-lesson.md"
    course_error = courses.error(lesson, courses.edit(lesson, 'sections: ["§1"]', 'sections: ["§1", "§9.1"]'),
                                 "sections[1]: unknown section reference '§9.1'")
    expected = [course_error] + [breaks(exercises) for breaks in (
        duration_over_120, unknown_phase, score_out_of_range, core_role_faces_too_few_decisions,
        unknown_module_in_objective, unexpected_file)]
    code, lines = check()
    assert code == 1
    assert sorted(expected) == sorted(lines[:-1])
    assert lines[-1] == f"{len(expected)} error(s); nothing was written."


def test_a_broken_course_file_is_not_echoed_as_unknown_modules(courses, exercises, check):
    courses.edit("intro-course/course.yml", "summary: A short course", "summary: A: short course")
    code, lines = check()
    assert code == 1
    assert lines == ["courses/intro-course/course.yml:3: YAML syntax error: mapping values are not allowed here",
                     "1 error(s); nothing was written."]


def test_missing_scenario_folder_is_an_error_that_names_the_setting(app, runner, tmp_path):
    app.config["EXERCISES_DIR"] = tmp_path / "no-exercises"
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1
    assert f"Error: EXERCISES_DIR is {tmp_path / 'no-exercises'}, which is not a folder: set EXERCISES_DIR, or " \
           "CONTENT_DIR to the folder holding courses/ and exercises/, or pass --exercises." in result.output


def test_check_writes_nothing(app, runner, content_args):
    assert runner.invoke(args=["content", "check", *content_args]).exit_code == 0
    counts = [db.session.scalar(db.select(db.func.count()).select_from(model)) for model in (Scenario, ScenarioVersion)]
    assert counts == [0, 0]


def test_learning_does_not_import_tabletop():
    """Dependencies point one way: tabletop builds on learning (modules, sections), never the reverse."""
    learning = Path(__file__).resolve().parents[2] / "academy" / "learning"
    importers = [path.name for path in learning.rglob("*.py") if "academy.tabletop" in path.read_text(encoding="utf-8")]
    assert importers == []
