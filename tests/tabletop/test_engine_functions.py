"""The live-session engine and the scores as pure functions: a list of events, the fixture scenario and a frozen
clock in, state out. No app and no database (tests/tabletop/test_engine.py drives the same rules through the
services that store the events)."""
from datetime import datetime, timedelta

import pytest

from academy.tabletop import engine
from academy.tabletop.engine import EngineError, Event, SessionState
from academy.tabletop.scenario_files import load_scenarios
from academy.tabletop.scoring import Score, objective_scores, role_scores, weak_modules
from tests.tabletop.scenario_fixture import ScenarioFolder

pytestmark = pytest.mark.no_database  # files and pure functions: the same answer on every database

T0 = datetime(2026, 11, 27, 9, 0, 0)
DIPLOMAT, CERT, OPERATOR, OUTSIDER = 1, 2, 3, 4  # participant ids
ROLES = {DIPLOMAT: "diplomat", CERT: "cert", OPERATOR: "operator"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """The fixture scenario of tests/tabletop/scenario_fixture.py, read and checked as `content sync` reads it."""
    loaded, problems = load_scenarios(ScenarioFolder(tmp_path_factory.mktemp("exercises")).folder, {"first-module"})
    assert problems == []
    return loaded[0]


class Log:
    """A session's events as the services append them: numbered in order, with the payloads they write."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.events: list[Event] = []

    def add(self, kind: str, when: datetime, **payload) -> Event:
        event = Event(len(self.events) + 1, kind, when, payload)
        self.events.append(event)
        return event

    def state(self) -> SessionState:
        return engine.fold(self.events, self.scenario)

    def seated(self) -> "Log":
        """Three participants joined and given their roles, as the `live` fixture seats them."""
        for participant_id, role in ROLES.items():
            self.add(engine.JOINED, T0, participant_id=participant_id, name=role.title(), institution="")
            self.add(engine.ASSIGNED, T0, participant_id=participant_id, role=role)
        return self

    def command(self, command: str, when: datetime) -> None:
        kinds = {"start": engine.STARTED, "pause": engine.PAUSED, "resume": engine.RESUMED, "end": engine.ENDED}
        engine.check_command(self.state(), command)
        self.add(kinds[command], when)

    def release(self, inject_id: str, when: datetime, how: str = "scheduled", participant_id=None) -> Event:
        state = self.state()
        engine.check_command(state, "release")
        inject = engine.inject_of(self.scenario, inject_id)
        audience = engine.release_audience(inject, participant_id)
        return self.add(engine.RELEASED, when, inject_id=inject_id, how=how, title=inject.title, audience=audience,
                        elapsed_seconds=state.elapsed_seconds(when))

    def tick(self, when: datetime) -> list[str]:
        """What the services' tick does: release every due inject; returns their ids."""
        due = engine.due_injects(self.state(), self.scenario, when)
        for inject in due:
            self.release(inject.id, when, "unlocked" if inject.follow_up else "scheduled")
        return [inject.id for inject in due]

    def decide(self, participant_id: int, inject_id: str, option_id, rationale: str, when: datetime) -> Event:
        state = self.state()
        engine.check_decision(state, self.scenario, participant_id, inject_id, option_id, rationale)
        return self.add(engine.DECIDED, when, participant_id=participant_id, role=state.roles.get(participant_id),
                        inject_id=inject_id, option_id=option_id, rationale=rationale,
                        response_seconds=engine.response_seconds(state, inject_id, when))


@pytest.fixture
def log(scenario):
    return Log(scenario).seated()


def released(log) -> list[str]:
    return list(log.state().releases)


# --- fold and apply ----------------------------------------------------------------------------------------------

def test_no_events_is_a_lobby_whose_clock_stands_still(scenario):
    state = engine.fold([], scenario)
    assert state == SessionState() and state.status == engine.LOBBY
    assert state.elapsed_seconds(at(60)) == 0 and state.last_event_id == 0


def test_joins_and_roles_are_folded_and_a_later_assignment_wins(log):
    log.add(engine.ASSIGNED, at(1), participant_id=OPERATOR, role="cert")
    state = log.state()
    assert set(state.participants) == {DIPLOMAT, CERT, OPERATOR}
    assert state.participants[CERT]["name"] == "Cert"
    assert state.roles == {DIPLOMAT: "diplomat", CERT: "cert", OPERATOR: "cert"}


def test_the_clock_counts_exercise_time_and_stands_still_while_paused_and_after_the_end(log):
    log.command("start", T0)
    assert log.state().status == engine.RUNNING and log.state().started_at == T0
    assert log.state().elapsed_seconds(at(10)) == 600
    log.command("pause", at(10))
    state = log.state()
    assert state.status == engine.PAUSED_STATUS and state.running_since is None
    assert state.elapsed_seconds(at(30)) == 600
    log.command("resume", at(30))
    assert log.state().elapsed_seconds(at(35)) == 900
    log.command("end", at(40))
    state = log.state()
    assert state.status == engine.ENDED_STATUS and state.ended_at == at(40)
    assert state.elapsed_seconds(at(90)) == 1200


def test_ending_a_paused_session_banks_nothing_more(log):
    log.command("start", T0)
    log.command("pause", at(5))
    log.command("end", at(50))
    assert log.state().elapsed_seconds(at(99)) == 300


def test_elapsed_seconds_are_whole_and_never_negative(log):
    log.command("start", T0)
    state = log.state()
    assert state.elapsed_seconds(T0 + timedelta(seconds=90.9)) == 90
    assert state.elapsed_seconds(T0 - timedelta(minutes=5)) == 0  # a clock behind the start counts nothing


def test_fold_is_apply_of_each_event_in_order_so_a_restart_rebuilds_the_same_state(log):
    log.command("start", T0)
    log.tick(at(9))
    log.decide(OPERATOR, "bank-call", "scrub", "Keep serving", at(9))
    log.command("pause", at(12))
    state = SessionState()
    for event in log.events:
        engine.apply(state, event, log.scenario)
    assert state == log.state()
    assert state.last_event_id == len(log.events)


def test_the_last_event_id_is_the_highest_id_applied(scenario):
    state = engine.fold([Event(7, engine.STARTED, T0, {}), Event(3, engine.PAUSED, at(1), {})], scenario)
    assert state.last_event_id == 7


def test_releases_closes_observations_and_overrides_are_kept(log):
    log.command("start", T0)
    release = log.release("bank-call", at(2), "early")
    log.add(engine.CLOSED, at(3), inject_id="bank-call")
    note = log.add(engine.OBSERVED, at(3), text="Quick", inject_id=None, objective=None)
    override = log.add(engine.OVERRIDDEN, at(4), objective="cert-share", role=None, points=2, reason="Good")
    state = log.state()
    assert state.releases["bank-call"] == engine.Release("bank-call", release.id, at(2), 120, {"roles": ["operator"]},
                                                         "early", "The bank calls")
    assert state.closed == {"bank-call"} and state.observations == [note] and state.overrides == [override]


def test_an_adhoc_inject_is_released_and_remembered_as_adhoc(log):
    log.command("start", T0)
    payload = {"inject_id": "adhoc-1", "how": "adhoc", "title": "Press call", "body": "A journalist",
               "audience": {"participant": DIPLOMAT}, "elapsed_seconds": 60}
    log.add(engine.RELEASED, at(1), **payload)
    state = log.state()
    assert state.adhoc == {"adhoc-1": payload} and state.releases["adhoc-1"].how == "adhoc"


# --- due injects and the console's list ----------------------------------------------------------------------------

def test_scheduled_injects_fall_due_in_exercise_time(log):
    assert engine.due_injects(log.state(), log.scenario, at(60)) == []  # the lobby: nothing is due
    log.command("start", T0)
    assert log.tick(at(0)) == ["alert-bank-portal"]
    assert log.tick(at(9)) == ["bank-call", "embassy-note"]
    assert log.tick(at(9)) == []  # released once, however often it ticks
    log.command("pause", at(9))
    assert engine.due_injects(log.state(), log.scenario, at(60)) == []  # paused: the clock stands still
    log.command("resume", at(60))
    assert log.tick(at(66)) == ["news-report"]  # 15 exercise minutes
    assert "neighbour-confirms" not in released(log)


def test_due_injects_come_in_timeline_order(log):
    log.command("start", T0)
    assert [inject.id for inject in engine.due_injects(log.state(), log.scenario, at(30))] == [
        "alert-bank-portal", "bank-call", "embassy-note", "news-report", "operator-log", "diplomat-call",
        "joint-meeting"]


def test_nothing_falls_due_after_the_end(log):
    log.command("start", T0)
    log.command("end", at(1))
    assert engine.due_injects(log.state(), log.scenario, at(120)) == []


def test_a_one_person_inject_waits_for_the_trainer_to_pick_someone(log):
    log.command("start", T0)
    log.tick(at(45))
    assert "press-question" not in released(log)
    inject = engine.inject_of(log.scenario, "press-question")
    with pytest.raises(EngineError, match="Choose the participant"):
        engine.release_audience(inject)
    log.release("press-question", at(45), "early", participant_id=OPERATOR)
    assert log.state().releases["press-question"].audience == {"participant": OPERATOR}


def test_a_follow_up_falls_due_only_once_a_decision_unlocks_it(log):
    log.command("start", T0)
    log.tick(at(1))
    log.tick(at(12))
    assert "neighbour-confirms" not in released(log)
    assert "neighbour-confirms" not in [inject.id for inject in engine.upcoming(log.state(), log.scenario)]
    log.decide(CERT, "alert-bank-portal", "call-neighbour", "The neighbour sees the same botnet", at(12))
    assert log.state().unlocked == {"neighbour-confirms"}
    assert log.tick(at(12)) == ["neighbour-confirms"]
    assert log.state().releases["neighbour-confirms"].how == "unlocked"


def test_an_option_that_unlocks_nothing_leaves_follow_ups_locked(log):
    log.command("start", T0)
    log.tick(at(0))
    log.decide(CERT, "alert-bank-portal", "wait", "More certainty first", at(1))
    assert log.state().unlocked == set() and log.tick(at(59)).count("neighbour-confirms") == 0


def test_upcoming_lists_what_may_still_be_released_in_timeline_order(log):
    log.command("start", T0)
    log.release("recovery-plan", at(1), "early")
    upcoming = [inject.id for inject in engine.upcoming(log.state(), log.scenario)]
    assert upcoming[0] == "alert-bank-portal"
    assert "recovery-plan" not in upcoming and "neighbour-confirms" not in upcoming
    assert "press-question" in upcoming  # the trainer releases it by hand


# --- who sees what ------------------------------------------------------------------------------------------------

def test_release_audiences_are_everyone_some_roles_or_one_participant(scenario):
    everyone = engine.release_audience(engine.inject_of(scenario, "joint-meeting"))
    assert everyone == {"all": True}
    everyone["all"] = False
    assert engine.EVERYONE == {"all": True}  # each release gets a copy
    assert engine.release_audience(engine.inject_of(scenario, "bank-call")) == {"roles": ["operator"]}
    assert engine.release_audience(engine.inject_of(scenario, "press-question"), 9) == {"participant": 9}


@pytest.mark.parametrize("audience, participant_id, role, expected", [
    ({"all": True}, None, None, True),
    ({"trainer": True}, CERT, "cert", False),
    ({"participant": CERT}, CERT, "cert", True),
    ({"participant": CERT}, OPERATOR, "cert", False),
    ({"participant": CERT}, None, None, False),
    ({"roles": ["diplomat", "operator"]}, OPERATOR, "operator", True),
    ({"roles": ["diplomat", "operator"]}, CERT, "cert", False),
    ({"roles": ["cert"]}, CERT, None, False),
])
def test_sees(audience, participant_id, role, expected):
    assert engine.sees(audience, participant_id, role) is expected


def test_private_injects_are_never_visible_to_other_roles(log):
    log.command("start", T0)
    log.tick(at(60))
    state = log.state()

    def feed(participant_id):
        return {inject_id for inject_id, release in state.releases.items()
                if engine.sees(release.audience, participant_id, state.roles[participant_id])}

    assert "embassy-note" in feed(DIPLOMAT) and "embassy-note" not in feed(OPERATOR)
    assert "bank-call" in feed(OPERATOR) and "bank-call" not in feed(DIPLOMAT)
    assert {"joint-meeting", "recovery-plan"} <= feed(DIPLOMAT) & feed(OPERATOR)


# --- commands and decisions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("status, allowed", [
    (engine.LOBBY, {"start", "end"}),
    (engine.RUNNING, {"pause", "end", "release"}),
    (engine.PAUSED_STATUS, {"resume", "end", "release"}),
    (engine.ENDED_STATUS, set()),
])
def test_clock_commands_are_refused_in_the_wrong_state(status, allowed):
    state = SessionState(status=status)
    for command in ("start", "pause", "resume", "end", "release"):
        if command in allowed:
            engine.check_command(state, command)
        else:
            with pytest.raises(EngineError, match=f"The session is {status}; it cannot {command} now."):
                engine.check_command(state, command)


def test_decisions_are_checked_and_the_response_time_is_exercise_time(log):
    log.command("start", T0)
    log.tick(at(5))
    log.tick(at(8))
    with pytest.raises(EngineError, match="not in your feed"):
        log.decide(DIPLOMAT, "bank-call", "scrub", "why", at(8))
    with pytest.raises(EngineError, match="Choose one of the options"):
        log.decide(OPERATOR, "bank-call", "nope", "why", at(8))
    with pytest.raises(EngineError, match="Choose one of the options"):
        log.decide(OPERATOR, "bank-call", None, "why", at(8))
    with pytest.raises(EngineError, match="rationale"):
        log.decide(OPERATOR, "bank-call", "scrub", "  ", at(8))
    first = log.decide(OPERATOR, "bank-call", "scrub", "Keep serving", at(8))
    assert first.payload["response_seconds"] == 180 and first.payload["role"] == "operator"
    with pytest.raises(EngineError, match="already responded"):
        log.decide(OPERATOR, "bank-call", "shut-down", "again", at(9))
    log.add(engine.CLOSED, at(9), inject_id="alert-bank-portal")
    with pytest.raises(EngineError, match="closed"):
        log.decide(CERT, "alert-bank-portal", "wait", "late", at(9))


def test_a_written_response_takes_no_option(log):
    log.command("start", T0)
    log.tick(at(20))
    with pytest.raises(EngineError, match="written response only"):
        log.decide(OPERATOR, "operator-log", "scrub", "Keep the logs", at(21))
    assert log.decide(OPERATOR, "operator-log", None, "Keep the logs", at(21)).payload["response_seconds"] == 60


def test_outsiders_and_an_ended_session_are_refused(log):
    log.command("start", T0)
    log.tick(at(0))
    with pytest.raises(EngineError, match="Only participants"):
        log.decide(OUTSIDER, "alert-bank-portal", "wait", "no role", at(1))
    log.add(engine.JOINED, at(1), participant_id=OUTSIDER, name="Late", institution="")
    with pytest.raises(EngineError, match="not in your feed"):  # joined, but no role: the inject is not theirs
        log.decide(OUTSIDER, "alert-bank-portal", "wait", "no role", at(1))
    log.command("end", at(2))
    with pytest.raises(EngineError, match="ended"):
        log.decide(CERT, "alert-bank-portal", "wait", "too late", at(3))


def test_a_response_to_an_unreleased_inject_is_refused(log):
    log.command("start", T0)
    with pytest.raises(EngineError, match="not in your feed"):
        log.decide(CERT, "alert-bank-portal", "wait", "early", at(0))


def test_response_seconds_never_go_below_zero(log):
    log.command("start", T0)
    log.release("bank-call", at(5))
    assert engine.response_seconds(log.state(), "bank-call", at(4)) == 0


# --- scores --------------------------------------------------------------------------------------------------

def scored(log) -> tuple[dict, dict]:
    state = log.state()
    return ({s.key: s for s in objective_scores(state, log.scenario)},
            {s.key: s for s in role_scores(state, log.scenario)})


def test_scores_per_objective_and_role_and_weak_modules(log):
    log.command("start", T0)
    log.tick(at(9))
    log.decide(CERT, "alert-bank-portal", "call-neighbour", "share", at(9))
    log.decide(DIPLOMAT, "embassy-note", "blame", "angry", at(9))
    log.add(engine.OVERRIDDEN, at(9), objective="cert-share", role=None, points=1, reason="Good call on the phone")
    by_objective, by_role = scored(log)
    share = by_objective["cert-share"]
    assert (share.earned, share.possible, share.adjustment, share.total) == (3, 3, 1, 4)
    assert share.percent == 100 and not share.weak  # above the best answer: capped
    consult = by_objective["dip-consult"]
    assert (consult.earned, consult.possible, consult.percent) == (-3, 3, 0) and consult.weak
    running = by_objective["op-keep-running"]
    assert running.possible == 0 and running.percent is None and not running.weak  # nothing to score yet
    assert weak_modules(list(by_objective.values()), log.scenario) == ["first-module"]
    assert (by_role["cert"].earned, by_role["cert"].possible) == (3, 3)
    assert (by_role["diplomat"].earned, by_role["diplomat"].possible) == (-3, 3)
    assert (by_role["operator"].earned, by_role["operator"].possible) == (0, 0)


def test_every_objective_an_inject_scores_counts_its_best_answer(log):
    log.command("start", T0)
    log.tick(at(30))
    log.decide(OPERATOR, "joint-meeting", "go-alone", "We know our network", at(31))
    by_objective, by_role = scored(log)
    assert {key: (s.earned, s.possible) for key, s in by_objective.items()} == {
        "dip-consult": (0, 1), "cert-share": (-1, 1), "op-keep-running": (0, 1)}
    # The role's best answer is the option with the most positive points; its own answer counts all of its points.
    assert (by_role["operator"].earned, by_role["operator"].possible) == (-1, 3)


def test_decisions_without_options_and_adhoc_injects_score_nothing(log):
    log.command("start", T0)
    log.tick(at(20))
    log.decide(OPERATOR, "operator-log", None, "Keep the logs", at(21))
    log.add(engine.DECIDED, at(22), participant_id=CERT, role="cert", inject_id="adhoc-1", option_id=None,
            rationale="An answer", response_seconds=5)
    by_objective, by_role = scored(log)
    assert all((s.earned, s.possible) == (0, 0) for s in [*by_objective.values(), *by_role.values()])


def test_overrides_adjust_objectives_and_roles_and_ignore_what_the_scenario_lacks(log):
    for objective, role, points in (("cert-share", None, 2), (None, "operator", -3), ("no-such", None, 5),
                                    (None, "no-such", 5), ("cert-share", None, -1)):
        log.add(engine.OVERRIDDEN, at(1), objective=objective, role=role, points=points, reason="Because")
    by_objective, by_role = scored(log)
    assert by_objective["cert-share"].adjustment == 1 and by_role["operator"].adjustment == -3
    assert set(by_objective) == {"dip-consult", "cert-share", "op-keep-running"}
    assert set(by_role) == {"diplomat", "cert", "operator"}


@pytest.mark.parametrize("earned, possible, adjustment, percent, weak", [
    (0, 0, 0, None, False),
    (0, 0, 3, None, False),
    (1, 2, 0, 50, False),
    (2, 5, 0, 40, True),
    (-4, 2, 0, 0, True),
    (2, 2, 5, 100, False),
    (1, 3, 0, 33, True),
])
def test_a_score_is_a_percent_of_the_best_answers_within_0_and_100(earned, possible, adjustment, percent, weak):
    score = Score("key", "Title", earned, possible, adjustment)
    assert score.total == earned + adjustment and score.percent == percent and score.weak is weak


def test_weak_modules_follow_the_objectives_order_without_repeats(scenario):
    scores = [Score(o.code, o.title, 0, 4) for o in scenario.objectives]
    assert weak_modules(scores, scenario) == ["first-module"]  # three weak objectives, one module
    assert weak_modules([Score(o.code, o.title, 4, 4) for o in scenario.objectives], scenario) == []
