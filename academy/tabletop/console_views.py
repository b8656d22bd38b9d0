"""The trainer console: the page that runs a live session, and its actions."""

import base64
import io

import segno
from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from academy.core.errors import wants_json
from academy.core.forms import choices
from academy.core.models import utcnow
from academy.core.permissions import allow
from academy.core.urls import absolute_url
from academy.extensions import db
from academy.tabletop import board, console_forms, engine, services
from academy.tabletop.cards import build_card
from academy.tabletop.models import LiveSession, Participant
from academy.tabletop.permissions import REPEAT_WINDOW, RUNNERS
from academy.tabletop.scoring import objective_scores, role_scores
from academy.tabletop.ticker import ensure_ticker
from academy.tabletop.views import bp


@bp.get("/exercises/sessions/<int:session_id>")
@allow(*RUNNERS)
def console(session_id):
    """The console: join code, clock, lobby, timeline, live board, observations and scores."""
    live = services.load_session(session_id, current_user)
    ensure_ticker(current_app._get_current_object())  # the one releaser of scheduled injects (tabletop/ticker.py)
    return render_template("tabletop/console.html", **_context(live))


@bp.get("/exercises/sessions/<int:session_id>/board")
@allow(*RUNNERS)
def console_board(session_id):
    """The parts of the console that change, for console.js to swap in when events arrive."""
    live = services.load_session(session_id, current_user)
    context = _context(live)
    return render_template("tabletop/_lobby.html", **context) + render_template("tabletop/_board.html", **context)


def _context(live: LiveSession, **forms) -> dict:
    state, scenario, now = services.state_of(live), services.scenario_of(live), utcnow()
    participants, released = board.lobby(live), board.released(state, scenario)
    forms.setdefault("adhoc_form", _adhoc_form(scenario, participants, formdata=None))
    forms.setdefault("observe_form", _observe_form(state, scenario, formdata=None))
    forms.setdefault("override_form", _override_form(scenario, formdata=None))
    join_url = _join_url(live)
    return dict(
        live=live,
        state=state,
        scenario=scenario,
        elapsed=state.elapsed_seconds(now),
        participants=participants,
        names={p.id: p.name for p in participants},
        roles={r.code: r.title for r in scenario.roles},
        objectives={o.code: o.title for o in scenario.objectives},
        released=released,
        upcoming=board.upcoming(state, scenario),
        cards={item.inject_id: build_card(state, scenario, item.inject_id, None) for item in released},
        next_inject=board.next_inject(state, scenario),
        live_board=board.live_board(state, scenario),
        objective_scores=objective_scores(state, scenario),
        role_scores=role_scores(state, scenario),
        join_url=join_url,
        qr=_qr_data_uri(join_url),
        stream_url=_url_of("tabletop.stream", live),
        report_url=_url_of("tabletop.report", live) if state.status == engine.ENDED_STATUS else None,
        **forms,
    )


def _url_of(endpoint: str, live: LiveSession) -> str | None:
    """A URL on another part of the feature, by the agreed convention even before that part is registered."""
    if endpoint in current_app.view_functions:
        return url_for(endpoint, session_id=live.id)
    return {"tabletop.stream": f"{request.script_root}/exercises/sessions/{live.id}/stream"}.get(endpoint)


def _join_url(live: LiveSession) -> str:
    # Shown on the projector and scanned from the QR code: PUBLIC_URL, whatever Host the trainer's request carried.
    return absolute_url("tabletop.join_code", code=live.join_code)


def _qr_data_uri(url: str) -> str:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=6, border=2, xmldecl=False, dark="#0b2545")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Forms whose choices come from the session.


def _adhoc_form(scenario, participants, **kwargs) -> console_forms.AdhocForm:
    form = console_forms.AdhocForm(**kwargs)
    form.roles.choices = choices((r.code, r.title) for r in scenario.roles)
    form.participant_id.choices = choices([("", _("Choose a participant"))] + [(p.id, p.name) for p in participants])
    form.participant_id.render_kw = {"data-participant-select": ""}  # console.js refreshes it as people join
    return form


def _observe_form(state, scenario, **kwargs) -> console_forms.ObserveForm:
    form = console_forms.ObserveForm(**kwargs)
    injects = [(i.id, i.title) for i in sorted(scenario.injects, key=lambda i: i.offset)]
    injects += [(inject_id, payload["title"]) for inject_id, payload in state.adhoc.items()]
    form.inject_id.choices = choices([("", _("No particular inject"))] + injects)
    form.objective.choices = choices(
        [("", _("No particular objective"))] + [(o.code, o.title) for o in scenario.objectives]
    )
    return form


def _override_form(scenario, **kwargs) -> console_forms.OverrideForm:
    form = console_forms.OverrideForm(**kwargs)
    form.target.choices = choices(
        [("", _("Choose an objective or a role"))]
        + [(f"objective:{o.code}", _("Objective: %(title)s", title=o.title)) for o in scenario.objectives]
        + [(f"role:{r.code}", _("Role: %(title)s", title=r.title)) for r in scenario.roles]
    )
    return form


def respond(
    live: LiveSession,
    ok: bool,
    message: str,
    *,
    status: int = 200,
    errors=None,
    anchor: str = "",
    rerender: dict | None = None,
):
    """One answer for every console action: JSON for fetch, else a flash and the console again."""
    if wants_json():
        return jsonify(ok=ok, message=message, errors=errors or {}), status
    flash(message, "success" if ok else "danger")
    if rerender is not None:
        # Typed text is kept: the console is shown again with the form and its errors.
        return render_template("tabletop/console.html", **_context(live, **rerender))
    return redirect(url_for("tabletop.console", session_id=live.id) + (f"#{anchor}" if anchor else ""))


def _act(session_id, build_form, act, *, anchor: str, keep: str | None = None):
    """Load, validate, act, commit once; invalid input or an EngineError changes nothing. Scheduled injects are the
    ticker's to release (tabletop/ticker.py), never a request's."""
    live = services.load_session(session_id, current_user)
    form = build_form(live)
    if not form.validate_on_submit():
        return respond(
            live,
            False,
            _first_error(form),
            status=422,
            errors=form.errors,
            anchor=anchor,
            rerender={keep: form} if keep else None,
        )
    try:
        message = act(live, form)
    except engine.EngineError as error:
        db.session.rollback()
        return respond(live, False, str(error), status=409, anchor=anchor, rerender={keep: form} if keep else None)
    db.session.commit()
    return respond(live, True, message, anchor=anchor)


def _first_error(form) -> str:
    for field in form:
        if field.errors and field.name not in form.technical:
            return str(field.errors[0])
    return _("That request was incomplete or out of date; nothing was changed. Please try again.")


def _participant(live: LiveSession, participant_id: int | None) -> Participant:
    participant = db.session.get(Participant, participant_id or 0)
    if participant is None or participant.session_id != live.id:
        raise engine.EngineError(_("That person is not a participant of this session."))
    return participant


# The console's actions: each a POST with CSRF that answers with respond().

COMMAND_DONE = {
    "start": lambda: _("The exercise has started: the clock is running and scheduled injects go out on time."),
    "pause": lambda: _("Paused: the clock stands still until you resume."),
    "resume": lambda: _("Resumed: the clock is running again."),
    "end": lambda: _("The exercise has ended. Responses are closed; the after-action report is ready."),
}


@bp.post("/exercises/sessions/<int:session_id>/command")
@allow(*RUNNERS)
def console_command(session_id):
    """Start, pause, resume or end the session clock."""

    def act(live, form):
        services.run_command(live, form.command.data, current_user)
        return COMMAND_DONE[form.command.data]()

    return _act(session_id, lambda live: console_forms.CommandForm(), act, anchor="clock")


@bp.post("/exercises/sessions/<int:session_id>/assign")
@allow(*RUNNERS)
def console_assign(session_id):
    """Give a participant a role, or another one."""

    def build(live):
        form = console_forms.AssignForm()
        form.role.choices = choices((r.code, r.title) for r in services.scenario_of(live).roles)
        return form

    def act(live, form):
        participant = _participant(live, form.participant_id.data)
        services.assign_role(live, participant, form.role.data, current_user)
        title = next(c.label for c in form.role.choices if c.value == form.role.data)
        return _("%(name)s now plays %(role)s.", name=participant.name, role=title)

    return _act(session_id, build, act, anchor="lobby")


@bp.post("/exercises/sessions/<int:session_id>/release")
@allow(*RUNNERS)
def console_release(session_id):
    """Release one scripted inject now: on time, early, or to the one person picked."""

    def act(live, form):
        state, scenario = services.state_of(live), services.scenario_of(live)
        inject = engine.inject_of(scenario, form.inject_id.data)
        if inject is None:
            raise engine.EngineError(_("That inject is not part of this scenario."))
        if inject.offset * 60 > state.elapsed_seconds(utcnow()):
            how = "early"
        else:
            how = "unlocked" if inject.follow_up else "scheduled"
        return _release(live, inject, form.participant_id.data, how)

    return _act(session_id, lambda live: console_forms.ReleaseForm(), act, anchor="timeline")


@bp.post("/exercises/sessions/<int:session_id>/release-next")
@allow(*RUNNERS)
def console_release_next(session_id):
    """Release the first eligible inject on the timeline."""

    def act(live, form):
        state, scenario = services.state_of(live), services.scenario_of(live)
        engine.check_command(state, "release")
        inject = board.next_inject(state, scenario)
        if inject is None:
            raise engine.EngineError(_("Every inject on the timeline has been released."))
        if form.expected.data and form.expected.data != inject.id:
            raise engine.EngineError(
                _(
                    "That inject has already gone out; the next one is now “%(title)s”. Release again if you meant it.",
                    title=inject.title,
                )
            )
        return _release(live, inject, form.participant_id.data, "next")

    return _act(session_id, lambda live: console_forms.ReleaseNextForm(), act, anchor="timeline")


def _release(live, inject, participant_id: int | None, how: str) -> str:
    if inject.audience == "participant":
        participant_id = _participant(live, participant_id).id if participant_id else None
    else:
        participant_id = None
    if services.release(live, inject.id, how, current_user, participant_id=participant_id) is None:
        raise engine.EngineError(_("This inject has already been released."))
    return _("Released: “%(title)s”.", title=inject.title)


@bp.post("/exercises/sessions/<int:session_id>/adhoc")
@allow(*RUNNERS)
def console_adhoc(session_id):
    """Send an inject typed live to everyone, some roles or one participant."""

    def build(live):
        return _adhoc_form(services.scenario_of(live), board.lobby(live))

    def act(live, form):
        audience = form.release_audience()
        state = services.state_of(live)
        last = next(reversed(state.adhoc.values()), None)
        if last and _repeat(
            state.releases[last["inject_id"]].at,
            (last["title"], last["body"], last["audience"]),
            (form.title.data.strip(), form.body.data.strip(), audience),
        ):
            return _("“%(title)s” has already been sent.", title=last["title"])
        row = services.release_adhoc(
            live, form.title.data, form.body.data, audience, current_user, asks_response=form.asks_response.data
        )
        if row is None:
            raise engine.EngineError(_("Another inject went out at the same moment; please send yours again."))
        return _("Sent: “%(title)s”.", title=row.payload["title"])

    return _act(session_id, build, act, anchor="adhoc", keep="adhoc_form")


def _repeat(last_at, last: tuple, wanted: tuple) -> bool:
    """The same thing as the last one, a moment ago: a double submit, which counts once."""
    return last == wanted and last_at >= utcnow() - REPEAT_WINDOW


@bp.post("/exercises/sessions/<int:session_id>/close")
@allow(*RUNNERS)
def console_close(session_id):
    """Stop taking responses to a released inject."""

    def act(live, form):
        services.close_inject(live, form.inject_id.data, current_user)
        return _("Responses to this inject are closed.")

    return _act(session_id, lambda live: console_forms.CloseForm(), act, anchor="board")


@bp.post("/exercises/sessions/<int:session_id>/observations")
@allow(*RUNNERS)
def console_observe(session_id):
    """Note a private observation, optionally about an inject and an objective."""

    def build(live):
        return _observe_form(services.state_of(live), services.scenario_of(live))

    def act(live, form):
        wanted = (form.text.data.strip(), form.inject_id.data or None, form.objective.data or None)
        last = next(reversed(services.state_of(live).observations), None)
        if last and _repeat(last.at, tuple(last.payload[k] for k in ("text", "inject_id", "objective")), wanted):
            return _("Observation saved.")
        services.observe(live, form.text.data, current_user, inject_id=wanted[1], objective=wanted[2])
        return _("Observation saved. Participants do not see it.")

    return _act(session_id, build, act, anchor="observations", keep="observe_form")


@bp.post("/exercises/sessions/<int:session_id>/overrides")
@allow(*RUNNERS)
def console_override(session_id):
    """Add or take away points of an objective or a role, with the reason."""

    def build(live):
        return _override_form(services.scenario_of(live))

    def act(live, form):
        objective, role = form.split_target()
        wanted = (objective, role, form.points.data, form.reason.data.strip())
        last = next(reversed(services.state_of(live).overrides), None)
        if last and _repeat(last.at, tuple(last.payload[k] for k in ("objective", "role", "points", "reason")), wanted):
            return _("Score adjusted.")
        services.override_score(live, current_user, form.points.data, form.reason.data, objective=objective, role=role)
        return _("Score adjusted. The reason is recorded in the after-action report.")

    return _act(session_id, build, act, anchor="overrides", keep="override_form")
