"""A participant's own debrief: what they may read after the exercise, from the session's replayed log."""

from academy.tabletop import engine
from academy.tabletop.models import Participant
from academy.tabletop.report_log import SessionLog, clock, iso, resolve_modules, score_dict
from academy.tabletop.scoring import objective_scores, role_scores, weak_modules


class Debrief:
    """What one participant may read after the exercise: nothing of other people beyond their role's shared log."""

    def __init__(self, log: SessionLog, participant: Participant):
        self.log, self.participant = log, participant
        self.role = log.role_of(participant)

    def sees(self, audience: dict) -> bool:
        return engine.sees(audience, self.participant.id, self.role)

    def build(self) -> dict:
        log, me = self.log, self.participant
        own = [log.response(e) for e in log.decisions_in_order() if e.payload["participant_id"] == me.id]
        shared = [
            log.response(row.as_engine_event())
            for row in log.rows
            if row.kind == engine.DECIDED and row.payload["participant_id"] != me.id and self.sees(row.audience)
        ]
        mine = [o for o in log.scenario.objectives if o.role == self.role]
        scores = {s.key: s for s in objective_scores(log.state, log.scenario)}
        role_score = next((s for s in role_scores(log.state, log.scenario) if s.key == self.role), None)
        weak = [scores[o.code] for o in mine if scores[o.code].weak]
        slugs = weak_modules(weak, log.scenario)
        modules = resolve_modules(slugs + [m for q in log.scenario.debrief for m in q.modules])
        return {
            "session": log.header(),
            "participant": {
                "id": me.id,
                "name": me.name,
                "institution": me.institution_name,
                "role": self.role,
                "role_title": log.titles("role").get(self.role),
                "guest": me.user_id is None,
            },
            "feed": [
                {
                    "inject_id": r.inject_id,
                    "title": log.inject_title(r.inject_id),
                    "how": r.how,
                    "exercise_time": clock(r.elapsed_seconds),
                    "wall_time": iso(r.at),
                }
                for r in log.state.releases.values()
                if self.sees(r.audience)
            ],
            "decisions": own,
            "role_log": [
                {k: r[k] for k in ("inject_title", "name", "role_title", "option_text", "rationale", "exercise_time")}
                for r in shared
            ],
            "role_score": score_dict(role_score) if role_score else None,
            "objectives": [score_dict(scores[o.code], role=o.role) for o in mine],
            "recommended_modules": [modules[slug] for slug in slugs if slug in modules],
            "debrief_questions": [
                {"question": q.question, "modules": [modules[m] for m in q.modules if m in modules]}
                for q in log.scenario.debrief
            ],
        }
