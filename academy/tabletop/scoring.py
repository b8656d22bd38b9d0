"""Scores per objective and per role from a session's decisions and the trainer's overrides. Pure functions."""

from dataclasses import dataclass

from academy.tabletop.engine import SessionState, inject_of, option_of
from academy.tabletop.scenario import Scenario

WEAK_BELOW = 50  # percent: an objective under this recommends its course modules


@dataclass
class Score:
    key: str
    title: str
    earned: int = 0
    possible: int = 0
    adjustment: int = 0

    @property
    def total(self) -> int:
        return self.earned + self.adjustment

    @property
    def percent(self) -> int | None:
        if not self.possible:
            return None
        return max(0, min(100, round(100 * self.total / self.possible)))

    @property
    def weak(self) -> bool:
        return self.percent is not None and self.percent < WEAK_BELOW


def _best(inject, objective: str) -> int:
    return max((option.scores.get(objective, 0) for option in inject.decision.options), default=0)


def objective_scores(state: SessionState, scenario: Scenario) -> list[Score]:
    """Earned against the best answer available, for every decision actually taken; plus overrides."""
    scores = {o.code: Score(o.code, o.title) for o in scenario.objectives}
    for (_participant_id, inject_id), event in state.decisions.items():
        inject = inject_of(scenario, inject_id)
        if inject is None or inject.decision is None or not inject.decision.options:
            continue
        option = option_of(scenario, inject_id, event.payload.get("option_id"))
        for code, score in scores.items():
            best = _best(inject, code)
            if best > 0:
                score.possible += best
                score.earned += option.scores.get(code, 0) if option else 0
    for event in state.overrides:
        target = scores.get(event.payload.get("objective"))
        if target is not None:
            target.adjustment += int(event.payload["points"])
    return list(scores.values())


def role_scores(state: SessionState, scenario: Scenario) -> list[Score]:
    """Per role: points of its members' decisions against the best answers they could have given."""
    titles = {r.code: r.title for r in scenario.roles}
    scores = {code: Score(code, title) for code, title in titles.items()}
    for (_participant_id, inject_id), event in state.decisions.items():
        role = event.payload.get("role")
        inject = inject_of(scenario, inject_id)
        if role not in scores or inject is None or inject.decision is None or not inject.decision.options:
            continue
        option = option_of(scenario, inject_id, event.payload.get("option_id"))
        best = max((sum(v for v in o.scores.values() if v > 0) for o in inject.decision.options), default=0)
        scores[role].possible += best
        scores[role].earned += sum(option.scores.values()) if option else 0
    for event in state.overrides:
        target = scores.get(event.payload.get("role"))
        if target is not None:
            target.adjustment += int(event.payload["points"])
    return list(scores.values())


def weak_modules(scores: list[Score], scenario: Scenario) -> list[str]:
    """Course modules linked to objectives scored under the threshold, without repeats, in objective order."""
    weak = {s.key for s in scores if s.weak}
    seen: list[str] = []
    for objective in scenario.objectives:
        if objective.code in weak:
            seen += [m for m in objective.modules if m not in seen]
    return seen
