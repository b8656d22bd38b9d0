"""The after-action report of a live session as one plain, JSON-ready dict: the source of its HTML, PDF and JSON.

Everything is read from the session's event log and its pinned scenario version, in a fixed order, so the same log
always gives the same report. Two narrower views of it exist: a manager's (only their institution's people) and a
participant's own debrief (only their own answers and what their role was shown).
"""
from dataclasses import dataclass
from functools import cached_property

from flask import abort, current_app, has_request_context, url_for

from academy.accounts.models import Role, User
from academy.core import audit
from academy.core.models import utcnow
from academy.extensions import db
from academy.institutions.models import Institution
from academy.institutions.services import scope_to_user
from academy.learning.models import Course, Module
from academy.tabletop import engine, services
from academy.tabletop.models import LiveSession, Participant
from academy.tabletop.scenario_files import Scenario as ScenarioDefinition
from academy.tabletop.scoring import WEAK_BELOW, Score, objective_scores, role_scores, weak_modules

FULL = "full"
STRONG_FROM = 75  # percent: an objective at or above this is a strength
# A decision that takes longer than ten exercise minutes lags a 60–120 minute story by a whole phase.
SLOW_AFTER_SECONDS = 600
CLOCK_KINDS = (engine.STARTED, engine.PAUSED, engine.RESUMED, engine.ENDED)


def after_action_report(session: LiveSession) -> dict:
    """The whole report, for the session's trainer and platform admins."""
    return _Report(_Log.load(session)).build()


def report_for_institution(session: LiveSession, institution_id: int) -> dict:
    """The report as a manager may read it: only their institution's people, their decisions and what they saw.

    The trainer's observations and score adjustments concern the whole group (and may name other people), so they
    are left out and the scores are those of this institution's decisions alone.
    """
    return _Report(_Log.load(session, institution_id)).build()


def participant_debrief(session: LiveSession, participant: Participant) -> dict:
    """One participant's debrief: their own decisions, what their role saw and logged, their role's scores."""
    return _Debrief(_Log.load(session), participant).build()


def report_scope(user, session: LiveSession) -> str | int | None:
    """FULL for the session's trainer and admins; the institution id for a manager whose people took part; else None."""
    if user.is_admin or session.trainer_id == user.id:
        return FULL
    if not (user.has_role(Role.MANAGER) and user.institution_id):
        return None
    query = scope_to_user(db.select(Participant.id).where(Participant.session_id == session.id),
                          user, Participant.institution_id)
    return user.institution_id if db.session.scalar(query.limit(1)) else None


def load_report(session_id: int, user) -> tuple[LiveSession, dict]:
    """The session and the report this user may read; 404 for a session that is none of their business."""
    session = db.session.get(LiveSession, session_id)
    scope = report_scope(user, session) if session is not None else None
    if scope is None:
        abort(404)
    return session, (after_action_report(session) if scope == FULL else report_for_institution(session, scope))


def record_export(live: LiveSession, data: dict, kind: str, actor=None) -> None:
    """An audit entry for a downloaded report: which session, which format, whole or one institution's part."""
    scope = data["scope"]
    audit.record("export.download", actor=actor, target=f"exercise report {live.id}",
                 institution_id=scope["institution_id"], export="exercise_report", format=kind,
                 session_id=live.id, session_title=live.title, scope=scope["kind"],
                 participants=len(data["participants"]))


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
    return {"code": score.key, "title": score.title, "earned": score.earned, "possible": score.possible,
            "adjustment": score.adjustment, "total": score.total, "percent": score.percent, **extra}


def resolve_modules(slugs) -> dict[str, dict]:
    """Course modules by slug, in one query; unknown, archived or unpublished ones are left out."""
    slugs = sorted(set(slugs))
    if not slugs:
        return {}
    rows = db.session.execute(db.select(Module, Course).join(Course, Course.id == Module.course_id).where(
        Module.slug.in_(slugs), Module.archived_at.is_(None), Course.archived_at.is_(None),
        Course.published.is_(True))).all()
    return {module.slug: {"slug": module.slug, "title": module.title, "course_slug": course.slug,
                          "course_title": course.title, "url": _course_url(course.slug, module.id)}
            for module, course in rows}


def _course_url(course_slug: str, module_id: int) -> str:
    if has_request_context():
        return url_for("learning.course", slug=course_slug, _anchor=f"module-{module_id}")
    return current_app.url_map.bind("").build("learning.course", {"slug": course_slug}) + f"#module-{module_id}"


@dataclass
class _Log:
    """A session's events replayed once, with the exercise time of every event and the people in scope."""

    session: LiveSession
    scenario: ScenarioDefinition
    rows: list
    state: engine.SessionState
    clock: dict  # event id -> exercise seconds when it happened
    participants: list  # Participant rows in scope, by id
    institution_id: int | None = None

    @classmethod
    def load(cls, session: LiveSession, institution_id: int | None = None) -> "_Log":
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

    def titles(self, kind: str) -> dict[str, str]:
        items = {"role": self.scenario.roles, "objective": self.scenario.objectives}[kind]
        return {item.code: item.title for item in items}

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
        best = max((sum(v for v in o.scores.values() if v > 0) for o in inject.decision.options), default=0) \
            if inject and inject.decision else 0
        points = sum(option.scores.values()) if option else None
        return {"event_id": event.id, "inject_id": p["inject_id"], "inject_title": self.inject_title(p["inject_id"]),
                "participant_id": p["participant_id"], "name": p.get("name") or (person.name if person else ""),
                "institution": person.institution_name if person else "", "role": p.get("role"),
                "role_title": self.titles("role").get(p.get("role")), "option_id": p.get("option_id"),
                "option_text": option.text if option else None, "rationale": p.get("rationale", ""),
                "response_seconds": p.get("response_seconds", 0), "response_time": clock(p.get("response_seconds", 0)),
                "consequence": option.consequence if option else None,
                "scores": dict(sorted(option.scores.items())) if option else {}, "points": points,
                "best": bool(option and best > 0 and points == best),
                "wall_time": iso(event.at), "exercise_seconds": self.clock.get(event.id),
                "exercise_time": clock(self.clock.get(event.id))}

    def decisions_in_order(self) -> list[engine.Event]:
        return sorted(self.state.decisions.values(), key=lambda event: event.id)

    def header(self) -> dict:
        session, state = self.session, self.state
        trainer = db.session.get(User, session.trainer_id)
        elapsed = state.elapsed_seconds(state.ended_at or utcnow())
        return {"id": session.id, "title": session.title, "status": state.status,
                "scenario": {"slug": self.scenario.slug, "title": self.scenario.title,
                             "version": session.scenario_version.number,
                             "duration_minutes": self.scenario.duration_minutes},
                "trainer": trainer.name if trainer else "", "created_at": iso(session.created_at),
                "started_at": iso(state.started_at), "ended_at": iso(state.ended_at),
                "exercise_seconds": elapsed, "exercise_time": clock(elapsed)}


class _Report:
    """The after-action report built from one replayed log."""

    def __init__(self, log: _Log):
        self.log = log

    def build(self) -> dict:
        log = self.log
        decisions = self.decisions()
        scores = objective_scores(log.state, log.scenario)  # in the scenario's order of objectives
        objectives = [score_dict(s, role=o.role, role_title=log.titles("role").get(o.role))
                      for s, o in zip(scores, log.scenario.objectives)]
        roles = [score_dict(s) for s in role_scores(log.state, log.scenario)]
        weak = [s for s in scores if s.weak]
        slugs = weak_modules(weak, log.scenario)
        modules = resolve_modules(slugs + [m for q in log.scenario.debrief for m in q.modules])
        return {
            "session": log.header(),
            "scope": self.scope(),
            "participants": [self.person(p) for p in log.participants],
            "timeline": self.timeline(),
            "decisions": decisions,
            "scores": {"objectives": objectives, "roles": roles},
            "overrides": [self.override(event) for event in log.state.overrides],
            "observations": [self.observation(event) for event in log.state.observations],
            "strengths": self.strengths(objectives, decisions),
            "improvements": self.improvements(objectives, decisions),
            "recommended_modules": [
                {**modules[slug], "objectives": [o.code for o in log.scenario.objectives
                                                 if slug in o.modules and o.code in {s.key for s in weak}]}
                for slug in slugs if slug in modules],
            "debrief_questions": [{"question": q.question, "modules": [modules[m] for m in q.modules if m in modules]}
                                  for q in log.scenario.debrief],
        }

    def scope(self) -> dict:
        institution_id = self.log.institution_id
        if institution_id is None:
            return {"kind": FULL, "institution_id": None, "institution": None}
        institution = db.session.get(Institution, institution_id)
        return {"kind": "institution", "institution_id": institution_id,
                "institution": institution.name if institution else None}

    def person(self, participant: Participant) -> dict:
        role = self.log.role_of(participant)
        return {"id": participant.id, "name": participant.name, "institution": participant.institution_name,
                "role": role, "role_title": self.log.titles("role").get(role), "guest": participant.user_id is None}

    def visible(self, release: engine.Release) -> bool:
        """A manager's report shows only the injects their own people were shown."""
        return self.log.institution_id is None or bool(self.log.audience_of(release))

    def audience(self, audience: dict) -> dict:
        person = self.log.people.get(audience.get("participant"))
        kind = next((k for k in ("all", "trainer", "participant", "roles") if k in audience), "roles")
        return {"kind": kind, "roles": list(audience.get("roles", [])),
                "participant_id": person.id if person else None, "participant": person.name if person else None}

    def timeline(self) -> list[dict]:
        """Clock changes, releases, closings and decisions in the order they happened."""
        log, entries = self.log, []
        releases = {release.event_id: release for release in log.state.releases.values()}
        decisions = {event.id: event for event in log.state.decisions.values()}
        for row in log.rows:
            entry = {"event_id": row.seq, "kind": row.kind, "wall_time": iso(row.at),
                     "exercise_seconds": log.clock[row.seq], "exercise_time": clock(log.clock[row.seq]),
                     "inject_id": None, "title": None, "how": None, "audience": None, "participant_id": None,
                     "name": None, "role": None, "option_text": None, "response_time": None}
            if row.kind in CLOCK_KINDS:
                entries.append(entry)
            elif row.seq in releases and self.visible(releases[row.seq]):
                release = releases[row.seq]
                entries.append({**entry, "inject_id": release.inject_id, "title": log.inject_title(release.inject_id),
                                "how": release.how, "audience": self.audience(release.audience),
                                "exercise_seconds": release.elapsed_seconds,
                                "exercise_time": clock(release.elapsed_seconds)})
            elif row.kind == engine.CLOSED and row.payload["inject_id"] in log.state.releases \
                    and self.visible(log.state.releases[row.payload["inject_id"]]):
                entries.append({**entry, "inject_id": row.payload["inject_id"],
                                "title": log.inject_title(row.payload["inject_id"])})
            elif row.seq in decisions:
                r = log.response(decisions[row.seq])
                entries.append({**entry, "inject_id": r["inject_id"], "title": r["inject_title"],
                                "participant_id": r["participant_id"], "name": r["name"], "role": r["role"],
                                "option_text": r["option_text"], "response_time": r["response_time"]})
        return entries

    def decisions(self) -> list[dict]:
        """Per released inject that asks for a decision (or got answers): every response and who did not answer."""
        log, result = self.log, []
        by_inject: dict[str, list] = {}
        for event in log.decisions_in_order():
            by_inject.setdefault(event.payload["inject_id"], []).append(log.response(event))
        for release in log.state.releases.values():
            inject = engine.inject_of(log.scenario, release.inject_id)
            responses = by_inject.get(release.inject_id, [])
            asks = bool(inject and inject.decision)
            if not self.visible(release) or not (asks or responses):
                continue
            answered = {r["participant_id"] for r in responses}
            missing = [{"participant_id": p.id, "name": p.name, "role": log.role_of(p)}
                       for p in log.audience_of(release) if p.id not in answered] if asks else []
            result.append({"inject_id": release.inject_id, "title": log.inject_title(release.inject_id),
                           "phase": inject.phase if inject else None,
                           "prompt": inject.decision.prompt if asks else None,
                           "released_exercise_seconds": release.elapsed_seconds,
                           "released_exercise_time": clock(release.elapsed_seconds),
                           "closed": release.inject_id in log.state.closed,
                           "responses": responses, "missing": missing})
        return result

    def override(self, event: engine.Event) -> dict:
        p = event.payload
        return {"event_id": event.id, "objective": p.get("objective"),
                "objective_title": self.log.titles("objective").get(p.get("objective")), "role": p.get("role"),
                "role_title": self.log.titles("role").get(p.get("role")), "points": p["points"],
                "reason": p["reason"], "wall_time": iso(event.at), "exercise_time": clock(self.log.clock.get(event.id))}

    def observation(self, event: engine.Event) -> dict:
        p = event.payload
        return {"event_id": event.id, "text": p["text"], "inject_id": p.get("inject_id"),
                "inject_title": self.log.inject_title(p.get("inject_id")), "objective": p.get("objective"),
                "objective_title": self.log.titles("objective").get(p.get("objective")), "wall_time": iso(event.at),
                "exercise_seconds": self.log.clock.get(event.id), "exercise_time": clock(self.log.clock.get(event.id))}

    @staticmethod
    def strengths(objectives: list[dict], decisions: list[dict]) -> dict:
        return {"objectives": [o for o in objectives if o["percent"] is not None and o["percent"] >= STRONG_FROM],
                "decisions": [r for d in decisions for r in d["responses"] if r["best"]]}

    @staticmethod
    def improvements(objectives: list[dict], decisions: list[dict]) -> dict:
        return {"objectives": [o for o in objectives if o["percent"] is not None and o["percent"] < WEAK_BELOW],
                "unanswered": [{"inject_id": d["inject_id"], "title": d["title"],
                                "released_exercise_time": d["released_exercise_time"], "audience": len(d["missing"])}
                               for d in decisions if d["prompt"] and d["missing"] and not d["responses"]],
                "slow": sorted((r for d in decisions for r in d["responses"]
                                if r["response_seconds"] > SLOW_AFTER_SECONDS),
                               key=lambda r: (-r["response_seconds"], r["event_id"]))}


class _Debrief:
    """What one participant may read after the exercise: nothing of other people beyond their role's shared log."""

    def __init__(self, log: _Log, participant: Participant):
        self.log, self.participant = log, participant
        self.role = log.role_of(participant)

    def sees(self, audience: dict) -> bool:
        return engine.sees(audience, self.participant.id, self.role)

    def build(self) -> dict:
        log, me = self.log, self.participant
        own = [log.response(e) for e in log.decisions_in_order() if e.payload["participant_id"] == me.id]
        shared = [log.response(row.as_engine_event()) for row in log.rows
                  if row.kind == engine.DECIDED and row.payload["participant_id"] != me.id and self.sees(row.audience)]
        mine = [o for o in log.scenario.objectives if o.role == self.role]
        scores = {s.key: s for s in objective_scores(log.state, log.scenario)}
        role_score = next((s for s in role_scores(log.state, log.scenario) if s.key == self.role), None)
        weak = [scores[o.code] for o in mine if scores[o.code].weak]
        slugs = weak_modules(weak, log.scenario)
        modules = resolve_modules(slugs + [m for q in log.scenario.debrief for m in q.modules])
        return {
            "session": log.header(),
            "participant": {"id": me.id, "name": me.name, "institution": me.institution_name, "role": self.role,
                            "role_title": log.titles("role").get(self.role), "guest": me.user_id is None},
            "feed": [{"inject_id": r.inject_id, "title": log.inject_title(r.inject_id), "how": r.how,
                      "exercise_time": clock(r.elapsed_seconds), "wall_time": iso(r.at)}
                     for r in log.state.releases.values() if self.sees(r.audience)],
            "decisions": own,
            "role_log": [{k: r[k] for k in ("inject_title", "name", "role_title", "option_text", "rationale",
                                            "exercise_time")} for r in shared],
            "role_score": score_dict(role_score) if role_score else None,
            "objectives": [score_dict(scores[o.code], role=o.role) for o in mine],
            "recommended_modules": [modules[slug] for slug in slugs if slug in modules],
            "debrief_questions": [{"question": q.question, "modules": [modules[m] for m in q.modules if m in modules]}
                                  for q in log.scenario.debrief],
        }
