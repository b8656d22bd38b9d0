"""A session's log replayed once for its reports: exercise times, people in scope, and how report values are written."""

from dataclasses import dataclass
from functools import cached_property

from flask import current_app, has_request_context, url_for

from academy.accounts.models import User
from academy.core.models import utcnow
from academy.extensions import db
from academy.learning.models import Course, Module
from academy.tabletop import engine, services
from academy.tabletop.models import LiveSession, Participant
from academy.tabletop.scenario import Objective
from academy.tabletop.scenario import Role as ScenarioRole
from academy.tabletop.scenario import Scenario as ScenarioDefinition
from academy.tabletop.scoring import Score

# A decision that takes longer than ten exercise minutes lags a 60–120 minute story by a whole phase.
SLOW_AFTER_SECONDS = 600
CLOCK_KINDS = (engine.STARTED, engine.PAUSED, engine.RESUMED, engine.ENDED)


def iso(moment) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with its Z, the form every time of the report takes."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def clock(seconds: int | None) -> str | None:
    """Exercise time as mm:ss, or h:mm:ss from the first hour on."""
    if seconds is None:
        return None
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def score_dict(score: Score, **extra) -> dict:
    """A score as the report shows it: points earned, at stake, adjusted by the trainer, and the percentage."""
    return {
        "code": score.key,
        "title": score.title,
        "earned": score.earned,
        "possible": score.possible,
        "adjustment": score.adjustment,
        "total": score.total,
        "percent": score.percent,
        **extra,
    }


def resolve_modules(slugs) -> dict[str, dict]:
    """Course modules by slug, in one query; unknown, archived or unpublished ones are left out."""
    slugs = sorted(set(slugs))
    if not slugs:
        return {}
    rows = db.session.execute(
        db.select(Module, Course)
        .join(Course, Course.id == Module.course_id)
        .where(
            Module.slug.in_(slugs),
            Module.archived_at.is_(None),
            Course.archived_at.is_(None),
            Course.published.is_(True),
        )
    ).all()
    return {
        module.slug: {
            "slug": module.slug,
            "title": module.title,
            "course_slug": course.slug,
            "course_title": course.title,
            "url": _course_url(course.slug, module.id),
        }
        for module, course in rows
    }


def _course_url(course_slug: str, module_id: int) -> str:
    if has_request_context():
        return url_for("learning.course", slug=course_slug, _anchor=f"module-{module_id}")
    return current_app.url_map.bind("").build("learning.course", {"slug": course_slug}) + f"#module-{module_id}"


@dataclass
class SessionLog:
    """A session's events replayed once, with the exercise time of every event and the people in scope."""

    session: LiveSession
    scenario: ScenarioDefinition
    rows: list
    state: engine.SessionState
    clock: dict  # event id -> exercise seconds when it happened
    participants: list  # Participant rows in scope, by id
    institution_id: int | None = None

    @classmethod
    def load(cls, session: LiveSession, institution_id: int | None = None) -> "SessionLog":
        """Replay the log once; for one institution, keep only its people and their decisions."""
        scenario = services.scenario_of(session)
        rows = services.events_of(session)
        state, seconds = engine.SessionState(), {}
        for row in rows:
            engine.apply(state, row.as_engine_event(), scenario)
            seconds[row.seq] = state.elapsed_seconds(row.at)
        query = db.select(Participant).where(Participant.session_id == session.id).order_by(Participant.id)
        if institution_id is not None:
            query = query.where(Participant.institution_id == institution_id)
        participants = list(db.session.scalars(query))
        if institution_id is not None:
            # Only these people's decisions count; group-wide notes and adjustments are the trainer's.
            kept = {p.id for p in participants}
            state.decisions = {key: event for key, event in state.decisions.items() if key[0] in kept}
            state.overrides, state.observations = [], []
        return cls(session, scenario, rows, state, seconds, participants, institution_id)

    @cached_property
    def people(self) -> dict[int, Participant]:
        return {p.id: p for p in self.participants}

    def role_of(self, participant: Participant) -> str | None:
        return self.state.roles.get(participant.id, participant.role)

    def audience_of(self, release: engine.Release) -> list[Participant]:
        """The participants in scope who were shown a release."""
        return [p for p in self.participants if engine.sees(release.audience, p.id, self.role_of(p))]

    def titles(self, kind: str) -> dict[str | None, str]:
        """The titles of the scenario's roles or objectives by code; looking up no code (None) finds none."""
        items: dict[str, list[ScenarioRole] | list[Objective]] = {
            "role": self.scenario.roles,
            "objective": self.scenario.objectives,
        }
        return {item.code: item.title for item in items[kind]}

    def inject_title(self, inject_id: str | None) -> str | None:
        release = self.state.releases.get(inject_id)
        inject = engine.inject_of(self.scenario, inject_id) if inject_id else None
        return inject.title if inject else (release.title if release else None)

    def response(self, event: engine.Event) -> dict:
        """One decision as the report shows it: who, what, why, how fast, and what it led to."""
        p = event.payload
        person = self.people.get(p["participant_id"])
        option = engine.option_of(self.scenario, p["inject_id"], p.get("option_id"))
        inject = engine.inject_of(self.scenario, p["inject_id"])
        best = (
            max((sum(v for v in o.scores.values() if v > 0) for o in inject.decision.options), default=0)
            if inject and inject.decision
            else 0
        )
        points = sum(option.scores.values()) if option else None
        return {
            "event_id": event.id,
            "inject_id": p["inject_id"],
            "inject_title": self.inject_title(p["inject_id"]),
            "participant_id": p["participant_id"],
            "name": p.get("name") or (person.name if person else ""),
            "institution": person.institution_name if person else "",
            "role": p.get("role"),
            "role_title": self.titles("role").get(p.get("role")),
            "option_id": p.get("option_id"),
            "option_text": option.text if option else None,
            "rationale": p.get("rationale", ""),
            "response_seconds": p.get("response_seconds", 0),
            "response_time": clock(p.get("response_seconds", 0)),
            "consequence": option.consequence if option else None,
            "scores": dict(sorted(option.scores.items())) if option else {},
            "points": points,
            "best": bool(option and best > 0 and points == best),
            "wall_time": iso(event.at),
            "exercise_seconds": self.clock.get(event.id),
            "exercise_time": clock(self.clock.get(event.id)),
        }

    def decisions_in_order(self) -> list[engine.Event]:
        return sorted(self.state.decisions.values(), key=lambda event: event.id)

    def header(self) -> dict:
        session, state = self.session, self.state
        trainer = db.session.get(User, session.trainer_id)
        elapsed = state.elapsed_seconds(state.ended_at or utcnow())
        return {
            "id": session.id,
            "title": session.title,
            "status": state.status,
            "scenario": {
                "slug": self.scenario.slug,
                "title": self.scenario.title,
                "version": session.scenario_version.number,
                "duration_minutes": self.scenario.duration_minutes,
            },
            "trainer": trainer.name if trainer else "",
            "created_at": iso(session.created_at),
            "started_at": iso(state.started_at),
            "ended_at": iso(state.ended_at),
            "exercise_seconds": elapsed,
            "exercise_time": clock(elapsed),
        }
