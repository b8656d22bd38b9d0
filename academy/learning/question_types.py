"""Quiz question types: how each is shown, read back from a form, and scored — on the server only."""

from abc import ABC, abstractmethod
from random import Random

from flask_babel import gettext as _


class TamperedAnswer(ValueError):
    """The submission names a question, option or item that was not on the paper."""


class QuestionType(ABC):
    """Base of the registry; each type turns a stored question into a paper entry and scores answers."""

    name = ""

    def present(self, data: dict, rng: Random) -> dict:
        """The order in which this attempt shows the question's parts."""
        return {}

    def field_names(self, shown: dict, field: str) -> set[str]:
        """The form fields this question may send; any other `q-…` field is tampering."""
        return {field}

    @abstractmethod
    def read(self, data: dict, shown: dict, form, field: str):
        """The answer in the form, None when unanswered; raises TamperedAnswer for foreign ids."""

    @abstractmethod
    def is_correct(self, data: dict, answer) -> bool:
        """Whether the answer is entirely right (no partial credit)."""

    @abstractmethod
    def solution(self, data: dict) -> list[str]:
        """The correct answer in words, for the feedback after submitting."""

    @abstractmethod
    def describe(self, data: dict, answer) -> list[str]:
        """The learner's answer in words (empty when unanswered)."""


def _shuffled(ids: list[str], rng: Random) -> list[str]:
    ids = list(ids)
    rng.shuffle(ids)
    return ids


def _part_values(form, field: str, part_ids: list[str], allowed: list[str]) -> dict[str, str]:
    """One value per shown part ("" when left blank); every value is checked before any blank counts."""
    names = {f"{field}-{part_id}" for part_id in part_ids}
    if any(key.startswith(f"{field}-") and key not in names for key in form):
        raise TamperedAnswer(field)
    values = {}
    for part_id in part_ids:
        given = form.getlist(f"{field}-{part_id}")
        if len(given) > 1 or (given and given[0] and given[0] not in allowed):
            raise TamperedAnswer(field)
        values[part_id] = given[0] if given else ""
    return values


class SingleChoice(QuestionType):
    name = "single"

    def present(self, data, rng):
        return {"options": _shuffled([o["id"] for o in data["options"]], rng)}

    def read(self, data, shown, form, field):
        values = form.getlist(field)
        if not values:
            return None
        if len(values) > 1 or values[0] not in shown["options"]:
            raise TamperedAnswer(field)
        return values[0]

    def is_correct(self, data, answer):
        return any(o["id"] == answer and o["correct"] for o in data["options"])

    def solution(self, data):
        return [o["text"] for o in data["options"] if o["correct"]]

    def describe(self, data, answer):
        chosen = [answer] if isinstance(answer, str) else answer or []
        return [o["text"] for o in data["options"] if o["id"] in chosen]


class MultipleChoice(SingleChoice):
    name = "multiple"

    def read(self, data, shown, form, field):
        values = form.getlist(field)
        if not values:
            return None
        if len(set(values)) != len(values) or not set(values) <= set(shown["options"]):
            raise TamperedAnswer(field)
        return sorted(values)

    def is_correct(self, data, answer):
        return set(answer) == {o["id"] for o in data["options"] if o["correct"]}


class TrueFalse(QuestionType):
    name = "true_false"

    def present(self, data, rng):
        return {"options": ["true", "false"]}

    def read(self, data, shown, form, field):
        values = form.getlist(field)
        if not values:
            return None
        if len(values) > 1 or values[0] not in ("true", "false"):
            raise TamperedAnswer(field)
        return values[0] == "true"

    def is_correct(self, data, answer):
        return answer is data["answer"]

    def solution(self, data):
        return [_("True") if data["answer"] else _("False")]

    def describe(self, data, answer):
        return [] if answer is None else [_("True") if answer else _("False")]


class Ordering(QuestionType):
    """Each item gets a position; right when the positions give the written order."""

    name = "ordering"

    def present(self, data, rng):
        ids = [item["id"] for item in data["items"]]
        shown = _shuffled(ids, rng)
        if shown == ids and len(ids) > 1:
            shown = shown[1:] + shown[:1]  # never show the answer as the starting order
        return {"items": shown}

    def read(self, data, shown, form, field):
        positions = _part_values(form, field, shown["items"], [str(n) for n in range(1, len(shown["items"]) + 1)])
        if not all(positions.values()) or len(set(positions.values())) != len(positions):
            return None  # a blank, or the same position twice: incomplete, not tampered
        return sorted(positions, key=lambda item_id: int(positions[item_id]))

    def is_correct(self, data, answer):
        return answer == [item["id"] for item in data["items"]]

    def field_names(self, shown, field):
        return {f"{field}-{item_id}" for item_id in shown["items"]}

    def solution(self, data):
        return [f"{n}. {item['text']}" for n, item in enumerate(data["items"], start=1)]

    def describe(self, data, answer):
        texts = {item["id"]: item["text"] for item in data["items"]}
        return [f"{n}. {texts.get(item_id, '?')}" for n, item_id in enumerate(answer or [], start=1)]


class Matching(QuestionType):
    """Each left-hand entry is matched to one right-hand entry, shown shuffled."""

    name = "matching"

    def present(self, data, rng):
        return {
            "lefts": [p["id"] for p in data["pairs"]],
            "rights": _shuffled(list(dict.fromkeys(p["right_id"] for p in data["pairs"])), rng),
        }

    def read(self, data, shown, form, field):
        answer = _part_values(form, field, shown["lefts"], shown["rights"])
        return answer if all(answer.values()) else None

    def is_correct(self, data, answer):
        return all(answer.get(p["id"]) == p["right_id"] for p in data["pairs"])

    def field_names(self, shown, field):
        return {f"{field}-{left_id}" for left_id in shown["lefts"]}

    def solution(self, data):
        return [f"{p['left']} → {p['right']}" for p in data["pairs"]]

    def describe(self, data, answer):
        answer = answer or {}
        rights = {p["right_id"]: p["right"] for p in data["pairs"]}
        return [f"{p['left']} → {rights.get(answer[p['id']], '?')}" for p in data["pairs"] if p["id"] in answer]


TYPES: dict[str, QuestionType] = {
    t.name: t for t in (SingleChoice(), MultipleChoice(), TrueFalse(), Ordering(), Matching())
}
