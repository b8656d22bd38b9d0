"""The live-session engine and its services, on a frozen clock."""
from datetime import datetime, timedelta

import pytest

from academy.extensions import db
from academy.tabletop import engine, services, ticker
from academy.tabletop.models import SessionEvent
from academy.tabletop.scoring import objective_scores, role_scores, weak_modules

T0 = datetime(2026, 11, 27, 9, 0, 0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def start(live, trainer):
    services.run_command(live.session, "start", trainer, now=T0)
    db.session.commit()


def released(live):
    return list(services.state_of(live.session).releases)


def test_clock_is_pause_aware(live, world):
    start(live, world.trainer)
    services.run_command(live.session, "pause", world.trainer, now=at(10))
    state = services.state_of(live.session)
    assert state.elapsed_seconds(at(30)) == 600
    services.run_command(live.session, "resume", world.trainer, now=at(30))
    assert services.state_of(live.session).elapsed_seconds(at(35)) == 900
    services.run_command(live.session, "end", world.trainer, now=at(40))
    state = services.state_of(live.session)
    assert state.status == engine.ENDED_STATUS and state.elapsed_seconds(at(90)) == 1200


def test_scheduled_injects_release_by_themselves_in_exercise_time(live, world):
    start(live, world.trainer)
    assert [r.payload["inject_id"] for r in ticker.tick(live.session, now=at(0))] == ["alert-bank-portal"]
    ticker.tick(live.session, now=at(9))
    assert released(live) == ["alert-bank-portal", "bank-call", "embassy-note"]
    services.run_command(live.session, "pause", world.trainer, now=at(9))
    assert ticker.tick(live.session, now=at(60)) == []  # paused: the clock stands still
    services.run_command(live.session, "resume", world.trainer, now=at(60))
    ticker.tick(live.session, now=at(66))  # 15 exercise minutes
    assert "news-report" in released(live) and "neighbour-confirms" not in released(live)


def test_ticking_twice_or_concurrently_releases_once(live, world):
    start(live, world.trainer)
    ticker.tick(live.session, now=at(5))
    ticker.tick(live.session, now=at(5))
    db.session.commit()
    kinds = db.session.scalars(db.select(SessionEvent.kind).where(SessionEvent.kind == engine.RELEASED)).all()
    assert len(kinds) == 2


def test_one_person_injects_wait_for_the_trainer_to_pick_someone(live, world):
    start(live, world.trainer)
    ticker.tick(live.session, now=at(45))
    assert "press-question" not in released(live)
    with pytest.raises(engine.EngineError):
        services.release(live.session, "press-question", "early", world.trainer, now=at(45))
    services.release(live.session, "press-question", "early", world.trainer,
                     participant_id=live.operator.participant.id, now=at(45))
    release = services.state_of(live.session).releases["press-question"]
    assert release.audience == {"participant": live.operator.participant.id}


def test_follow_up_is_released_only_when_a_decision_unlocks_it(live, world):
    start(live, world.trainer)
    ticker.tick(live.session, now=at(1))
    ticker.tick(live.session, now=at(12))
    assert "neighbour-confirms" not in released(live)
    services.decide(live.session, live.cert.participant, "alert-bank-portal", "call-neighbour",
                    "The neighbour sees the same botnet", now=at(12))
    ticker.tick(live.session, now=at(12))
    assert "neighbour-confirms" in released(live)


def test_trainer_can_release_next_or_fire_early(live, world):
    start(live, world.trainer)
    services.release(live.session, "recovery-plan", "early", world.trainer, now=at(1))
    assert released(live) == ["recovery-plan"]
    with pytest.raises(engine.EngineError, match="already been released"):
        services.release(live.session, "recovery-plan", "early", world.trainer, now=at(1))
    upcoming = engine.upcoming(services.state_of(live.session), services.scenario_of(live.session))
    assert upcoming[0].id == "alert-bank-portal"


def test_decisions_are_checked_and_count_once(live, world):
    start(live, world.trainer)
    ticker.tick(live.session, now=at(5))
    ticker.tick(live.session, now=at(8))
    with pytest.raises(engine.EngineError, match="not in your feed"):
        services.decide(live.session, live.diplomat.participant, "bank-call", "scrub", "why", now=at(8))
    with pytest.raises(engine.EngineError, match="Choose one of the options"):
        services.decide(live.session, live.operator.participant, "bank-call", "nope", "why", now=at(8))
    with pytest.raises(engine.EngineError, match="rationale"):
        services.decide(live.session, live.operator.participant, "bank-call", "scrub", "  ", now=at(8))
    first = services.decide(live.session, live.operator.participant, "bank-call", "scrub", "Keep serving",
                            now=at(8))
    assert first is not None and first.payload["response_seconds"] == 180
    assert services.decide(live.session, live.operator.participant, "bank-call", "shut-down", "again",
                           now=at(9)) is None
    services.close_inject(live.session, "alert-bank-portal", world.trainer)
    with pytest.raises(engine.EngineError, match="closed"):
        services.decide(live.session, live.cert.participant, "alert-bank-portal", "wait", "late", now=at(9))


def test_non_participant_and_ended_session_are_refused(live, world, app):
    from tests import factories

    start(live, world.trainer)
    ticker.tick(live.session, now=at(0))
    outsider = services.join(live.session, user=factories.make_user("late@a.org"))
    with pytest.raises(engine.EngineError):
        services.decide(live.session, outsider, "alert-bank-portal", "wait", "no role", now=at(1))
    services.run_command(live.session, "end", world.trainer, now=at(2))
    with pytest.raises(engine.EngineError, match="ended"):
        services.decide(live.session, live.cert.participant, "alert-bank-portal", "wait", "too late", now=at(3))


def test_private_injects_are_never_visible_to_other_roles(live, world):
    start(live, world.trainer)
    ticker.tick(live.session, now=at(60))
    db.session.commit()
    diplomat_feed = {e.payload.get("inject_id") for e in services.visible_events(live.session, live.diplomat.participant)
                     if e.kind == engine.RELEASED}
    operator_feed = {e.payload.get("inject_id") for e in services.visible_events(live.session, live.operator.participant)
                     if e.kind == engine.RELEASED}
    assert "embassy-note" in diplomat_feed and "embassy-note" not in operator_feed
    assert "bank-call" in operator_feed and "bank-call" not in diplomat_feed
    assert {"joint-meeting", "recovery-plan"} <= diplomat_feed & operator_feed


def test_clock_commands_refused_in_the_wrong_state(live, world):
    with pytest.raises(engine.EngineError):
        services.run_command(live.session, "pause", world.trainer, now=T0)
    start(live, world.trainer)
    with pytest.raises(engine.EngineError):
        services.run_command(live.session, "start", world.trainer, now=at(1))


def test_restart_loses_nothing_state_is_rebuilt_from_the_log(live, world):
    start(live, world.trainer)
    ticker.tick(live.session, now=at(8))
    services.decide(live.session, live.operator.participant, "bank-call", "scrub", "Keep serving", now=at(8))
    db.session.commit()
    before = services.state_of(live.session)
    db.session.expire_all()
    db.session.info.clear()
    after = services.state_of(live.session)
    assert list(after.releases) == list(before.releases)
    assert after.decisions.keys() == before.decisions.keys()
    assert after.elapsed_seconds(at(20)) == 1200


def test_scores_per_objective_and_role_and_weak_modules(live, world):
    start(live, world.trainer)
    ticker.tick(live.session, now=at(9))
    services.decide(live.session, live.cert.participant, "alert-bank-portal", "call-neighbour", "share", now=at(9))
    services.decide(live.session, live.diplomat.participant, "embassy-note", "blame", "angry", now=at(9))
    services.override_score(live.session, world.trainer, 1, "Good call on the phone", objective="cert-share")
    db.session.commit()
    state, scenario = services.state_of(live.session), services.scenario_of(live.session)
    by_objective = {s.key: s for s in objective_scores(state, scenario)}
    assert by_objective["cert-share"].earned > 0 and by_objective["cert-share"].adjustment == 1
    assert by_objective["dip-consult"].weak
    assert "first-module" in weak_modules(list(by_objective.values()), scenario)
    by_role = {s.key: s for s in role_scores(state, scenario)}
    assert by_role["cert"].possible > 0
