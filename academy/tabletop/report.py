"""The after-action report of a live session as one plain, JSON-ready dict: the source of its HTML, PDF and JSON.

Everything is read from the session's event log and its pinned scenario version, in a fixed order, so the same log
always gives the same report. Two narrower views of it exist: a manager's (only their institution's people) and a
participant's own debrief (only their own answers and what their role was shown).
"""

from flask import abort

from academy.accounts.models import Role
from academy.core import audit
from academy.extensions import db
from academy.organisations.models import Institution
from academy.organisations.services import scope_to_user
from academy.tabletop import engine
from academy.tabletop.debrief import Debrief
from academy.tabletop.models import LiveSession, Participant
from academy.tabletop.report_log import (
    CLOCK_KINDS,
    SLOW_AFTER_SECONDS,
    SessionLog,
    clock,
    iso,
    resolve_modules,
    score_dict,
)
from academy.tabletop.scoring import WEAK_BELOW, objective_scores, role_scores, weak_modules

FULL = "full"
STRONG_FROM = 75  # percent: an objective at or above this is a strength


def after_action_report(session: LiveSession) -> dict:
    """The whole report, for the session's trainer and platform admins."""
    return _Report(SessionLog.load(session)).build()


def report_for_institution(session: LiveSession, institution_id: int) -> dict:
    """The report as a manager may read it: only their institution's people, their decisions and what they saw.

    The trainer's observations and score adjustments concern the whole group (and may name other people), so they
    are left out and the scores are those of this institution's decisions alone.
    """
    return _Report(SessionLog.load(session, institution_id)).build()


def participant_debrief(session: LiveSession, participant: Participant) -> dict:
    """One participant's debrief: their own decisions, what their role saw and logged, their role's scores."""
    return Debrief(SessionLog.load(session), participant).build()


def report_scope(user, session: LiveSession) -> str | int | None:
    """FULL for the session's trainer and admins; the institution id for a manager whose people took part; else None."""
    if user.is_admin or session.trainer_id == user.id:
        return FULL
    if not (user.has_role(Role.MANAGER) and user.institution_id):
        return None
    query = scope_to_user(
        db.select(Participant.id).where(Participant.session_id == session.id), user, Participant.institution_id
    )
    return user.institution_id if db.session.scalar(query.limit(1)) else None


def load_report(session_id: int, user) -> tuple[LiveSession, dict]:
    """The session and the report this user may read; 404 for a session that is none of their business."""
    session = db.session.get(LiveSession, session_id)
    scope = report_scope(user, session) if session is not None else None
    if session is None or scope is None:
        abort(404)
    # Any scope but FULL is an institution id.
    return session, (report_for_institution(session, scope) if isinstance(scope, int) else after_action_report(session))


def record_export(live: LiveSession, data: dict, kind: str, actor=None) -> None:
    """An audit entry for a downloaded report: which session, which format, whole or one institution's part."""
    scope = data["scope"]
    audit.record(
        "export.download",
        actor=actor,
        target=f"exercise report {live.id}",
        institution_id=scope["institution_id"],
        export="exercise_report",
        format=kind,
        session_id=live.id,
        session_title=live.title,
        scope=scope["kind"],
        participants=len(data["participants"]),
    )


class _Report:
    """The after-action report built from one replayed log."""

    def __init__(self, log: SessionLog):
        self.log = log

    def build(self) -> dict:
        log = self.log
        decisions = self.decisions()
        scores = objective_scores(log.state, log.scenario)  # in the scenario's order of objectives
        objectives = [
            score_dict(s, role=o.role, role_title=log.titles("role").get(o.role))
            for s, o in zip(scores, log.scenario.objectives, strict=False)
        ]
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
                {
                    **modules[slug],
                    "objectives": [
                        o.code for o in log.scenario.objectives if slug in o.modules and o.code in {s.key for s in weak}
                    ],
                }
                for slug in slugs
                if slug in modules
            ],
            "debrief_questions": [
                {"question": q.question, "modules": [modules[m] for m in q.modules if m in modules]}
                for q in log.scenario.debrief
            ],
        }

    def scope(self) -> dict:
        institution_id = self.log.institution_id
        if institution_id is None:
            return {"kind": FULL, "institution_id": None, "institution": None}
        institution = db.session.get(Institution, institution_id)
        return {
            "kind": "institution",
            "institution_id": institution_id,
            "institution": institution.name if institution else None,
        }

    def person(self, participant: Participant) -> dict:
        role = self.log.role_of(participant)
        return {
            "id": participant.id,
            "name": participant.name,
            "institution": participant.institution_name,
            "role": role,
            "role_title": self.log.titles("role").get(role),
            "guest": participant.user_id is None,
        }

    def visible(self, release: engine.Release) -> bool:
        """A manager's report shows only the injects their own people were shown."""
        return self.log.institution_id is None or bool(self.log.audience_of(release))

    def audience(self, audience: dict) -> dict:
        participant_id = audience.get("participant")
        person = self.log.people.get(participant_id) if participant_id is not None else None
        kind = next((k for k in ("all", "trainer", "participant", "roles") if k in audience), "roles")
        return {
            "kind": kind,
            "roles": list(audience.get("roles", [])),
            "participant_id": person.id if person else None,
            "participant": person.name if person else None,
        }

    def timeline(self) -> list[dict]:
        """Clock changes, releases, closings and decisions in the order they happened."""
        log, entries = self.log, []
        releases = {release.event_id: release for release in log.state.releases.values()}
        decisions = {event.id: event for event in log.state.decisions.values()}
        for row in log.rows:
            entry = {
                "event_id": row.seq,
                "kind": row.kind,
                "wall_time": iso(row.at),
                "exercise_seconds": log.clock[row.seq],
                "exercise_time": clock(log.clock[row.seq]),
                "inject_id": None,
                "title": None,
                "how": None,
                "audience": None,
                "participant_id": None,
                "name": None,
                "role": None,
                "option_text": None,
                "response_time": None,
            }
            if row.kind in CLOCK_KINDS:
                entries.append(entry)
            elif row.seq in releases and self.visible(releases[row.seq]):
                release = releases[row.seq]
                entries.append(
                    {
                        **entry,
                        "inject_id": release.inject_id,
                        "title": log.inject_title(release.inject_id),
                        "how": release.how,
                        "audience": self.audience(release.audience),
                        "exercise_seconds": release.elapsed_seconds,
                        "exercise_time": clock(release.elapsed_seconds),
                    }
                )
            elif (
                row.kind == engine.CLOSED
                and row.payload["inject_id"] in log.state.releases
                and self.visible(log.state.releases[row.payload["inject_id"]])
            ):
                entries.append(
                    {
                        **entry,
                        "inject_id": row.payload["inject_id"],
                        "title": log.inject_title(row.payload["inject_id"]),
                    }
                )
            elif row.seq in decisions:
                r = log.response(decisions[row.seq])
                entries.append(
                    {
                        **entry,
                        "inject_id": r["inject_id"],
                        "title": r["inject_title"],
                        "participant_id": r["participant_id"],
                        "name": r["name"],
                        "role": r["role"],
                        "option_text": r["option_text"],
                        "response_time": r["response_time"],
                    }
                )
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
            missing = (
                [
                    {"participant_id": p.id, "name": p.name, "role": log.role_of(p)}
                    for p in log.audience_of(release)
                    if p.id not in answered
                ]
                if asks
                else []
            )
            result.append(
                {
                    "inject_id": release.inject_id,
                    "title": log.inject_title(release.inject_id),
                    "phase": inject.phase if inject else None,
                    "prompt": inject.decision.prompt if inject and inject.decision else None,
                    "released_exercise_seconds": release.elapsed_seconds,
                    "released_exercise_time": clock(release.elapsed_seconds),
                    "closed": release.inject_id in log.state.closed,
                    "responses": responses,
                    "missing": missing,
                }
            )
        return result

    def override(self, event: engine.Event) -> dict:
        p = event.payload
        return {
            "event_id": event.id,
            "objective": p.get("objective"),
            "objective_title": self.log.titles("objective").get(p.get("objective")),
            "role": p.get("role"),
            "role_title": self.log.titles("role").get(p.get("role")),
            "points": p["points"],
            "reason": p["reason"],
            "wall_time": iso(event.at),
            "exercise_time": clock(self.log.clock.get(event.id)),
        }

    def observation(self, event: engine.Event) -> dict:
        p = event.payload
        return {
            "event_id": event.id,
            "text": p["text"],
            "inject_id": p.get("inject_id"),
            "inject_title": self.log.inject_title(p.get("inject_id")),
            "objective": p.get("objective"),
            "objective_title": self.log.titles("objective").get(p.get("objective")),
            "wall_time": iso(event.at),
            "exercise_seconds": self.log.clock.get(event.id),
            "exercise_time": clock(self.log.clock.get(event.id)),
        }

    @staticmethod
    def strengths(objectives: list[dict], decisions: list[dict]) -> dict:
        return {
            "objectives": [o for o in objectives if o["percent"] is not None and o["percent"] >= STRONG_FROM],
            "decisions": [r for d in decisions for r in d["responses"] if r["best"]],
        }

    @staticmethod
    def improvements(objectives: list[dict], decisions: list[dict]) -> dict:
        return {
            "objectives": [o for o in objectives if o["percent"] is not None and o["percent"] < WEAK_BELOW],
            "unanswered": [
                {
                    "inject_id": d["inject_id"],
                    "title": d["title"],
                    "released_exercise_time": d["released_exercise_time"],
                    "audience": len(d["missing"]),
                }
                for d in decisions
                if d["prompt"] and d["missing"] and not d["responses"]
            ],
            "slow": sorted(
                (r for d in decisions for r in d["responses"] if r["response_seconds"] > SLOW_AFTER_SECONDS),
                key=lambda r: (-r["response_seconds"], r["event_id"]),
            ),
        }
