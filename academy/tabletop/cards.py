"""Inject cards: a released inject as a viewer sees it, and its HTML, rendered once for every stream that shows it."""

import logging
from dataclasses import dataclass
from types import SimpleNamespace

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from academy.core import locales
from academy.tabletop import board, engine
from academy.tabletop.hub import decision_entry, inject_title
from academy.tabletop.scenario import Decision, Scenario

log = logging.getLogger(__name__)

CARD_TEMPLATE = "tabletop/_inject.html"
CSRF_MARK = "__csrf__"  # the live page puts its own CSRF token into a card that came with an event


@dataclass
class Card:
    """A released inject as one viewer sees it; the trainer's card (no participant) has no answer and no form."""

    inject_id: str
    title: str
    body: str
    phase: str
    how: str
    released_seconds: int
    artefacts: list
    decision: object | None
    closed: bool
    ended: bool
    answer: dict | None = None
    english_only: bool = False  # shown in English to a reader of another language, for want of a current translation

    @property
    def answerable(self) -> bool:
        return self.decision is not None and self.answer is None and not self.closed and not self.ended


def build_card(
    state: engine.SessionState, scenario: Scenario, inject_id: str, participant_id: int | None, localised=None
) -> Card:
    """The card of a released inject (scripted or ad hoc), with this participant's answer if any; in the language of
    `localised` (tabletop.translations.Localised) where the whole inject has a current translation."""
    release = state.releases[inject_id]
    inject = engine.inject_of(scenario, inject_id)
    english_only = localised is not None and localised.tag_wanted != locales.DEFAULT
    if inject is not None and localised and localised.has_inject(inject):
        inject, english_only = localised.apply(inject), False
    adhoc = state.adhoc.get(inject_id, {})
    event = state.decisions.get((participant_id, inject_id)) if participant_id is not None else None
    return Card(
        inject_id=inject_id,
        title=inject.title if inject is not None and localised else inject_title(state, scenario, inject_id),
        body=inject.body if inject else adhoc.get("body", ""),
        phase=inject.phase if inject else "",
        how=release.how,
        released_seconds=release.elapsed_seconds,
        artefacts=inject.artefacts if inject else [],
        decision=_decision_of(inject, adhoc),
        closed=inject_id in state.closed,
        ended=state.status == engine.ENDED_STATUS,
        answer=_answer(event.payload, state, scenario, localised) if event else None,
        english_only=english_only,
    )


def _answer(payload: dict, state: engine.SessionState, scenario: Scenario, localised) -> dict:
    entry = decision_entry(payload, state, scenario)
    return localised.entry(scenario, entry) if localised else entry


def _decision_of(inject, adhoc: dict) -> Decision | None:
    """A scripted inject's decision; an ad-hoc inject that asks for a response wants a written answer."""
    if inject is not None:
        return inject.decision
    if board.asks_response(None, adhoc):
        return Decision(prompt=_("The trainer asks for your response."), options=[])
    return None


def visible_cards(state: engine.SessionState, scenario: Scenario, participant_id: int, localised=None) -> list[Card]:
    """Exactly the injects this participant may see, newest first."""
    role = state.roles.get(participant_id)
    return [
        build_card(state, scenario, release.inject_id, participant_id, localised)
        for release in reversed(state.releases.values())
        if engine.sees(release.audience, participant_id, role)
    ]


def card_renderer(app, session_id: int):
    """What a hub calls to render a released or closed inject's card once for all its participants.

    The card has no answer in it (nobody can have answered at release) and a marked CSRF field that each page
    fills with its own token; None when rendering fails, and the page then fetches its card.
    """
    live = SimpleNamespace(id=session_id)  # the card's form posts to the session; nothing else of it is read
    try:  # compiled now, as a stream opens, not inside the request that releases this process's first inject
        app.jinja_env.get_template(CARD_TEMPLATE)
    except Exception:
        log.exception("the inject card template could not be loaded")

    def render(state: engine.SessionState, scenario: Scenario, inject_id: str, tag: str = "en", localised=None):
        try:
            with (
                app.test_request_context(base_url=app.config.get("PUBLIC_URL") or None),
                force_locale(locales.LOCALES[tag].babel),
            ):
                card = build_card(state, scenario, inject_id, None, localised)
                return render_template(
                    CARD_TEMPLATE, live=live, card=card, draft=None, viewer="participant", csrf=CSRF_MARK
                )
        except Exception:  # a page can always fetch its card; a stream must not stop
            log.exception("rendering the card of inject %s of session %s failed", inject_id, session_id)
            return None

    return render
