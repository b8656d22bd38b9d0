"""The participant's side of a live session: join by code, the play page, decisions, and one inject card."""

import re

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from academy.accounts.languages import current_tag
from academy.core.content.markdown import render_lesson
from academy.core.errors import wants_json
from academy.core.models import utcnow
from academy.core.permissions import PUBLIC, allow
from academy.extensions import db, limiter
from academy.tabletop import engine, services
from academy.tabletop import translations as scenario_translations
from academy.tabletop.cards import build_card, visible_cards
from academy.tabletop.forms import DecisionForm, GuestForm, JoinCodeForm, JoinForm
from academy.tabletop.hub import decision_entry
from academy.tabletop.permissions import load_participant, load_viewer, participant_for, remember_guest
from academy.tabletop.report_log import clock
from academy.tabletop.ticker import ensure_ticker
from academy.tabletop.views import bp

EMAIL_HEADER = re.compile(r"^([A-Z][A-Za-z-]{1,20}):\s*(.*)$")


@bp.app_template_filter("exercise_markdown")
def exercise_markdown(text: str) -> Markup:
    """Scenario Markdown (briefs, inject bodies) as safe HTML: the lesson renderer, no raw HTML."""
    return Markup(render_lesson(text or "", {}).html)


@bp.app_template_filter("exercise_text")
def exercise_text(text: str) -> Markup:
    """An artefact's plain text: paragraphs at blank lines, its line breaks kept, everything escaped."""
    paragraphs = [part for part in re.split(r"\n\s*\n", (text or "").strip()) if part.strip()]
    return Markup(
        "".join(f"<p>{Markup('<br>').join(escape(line) for line in part.splitlines())}</p>" for part in paragraphs)
    )


@bp.app_template_filter("email_parts")
def email_parts(text: str) -> tuple[list[tuple[str, str]], str]:
    """The header lines an e-mail artefact starts with (From:, To:, Subject: …) and the rest of its text."""
    lines = (text or "").splitlines()
    headers: list[tuple[str, str]] = []
    for index, line in enumerate(lines):
        match = EMAIL_HEADER.match(line)
        if not match:
            rest = lines[index + 1 :] if not line.strip() else lines[index:]
            return (headers, "\n".join(rest)) if headers else ([], text or "")
        headers.append((match.group(1), match.group(2)))
    return headers, ""


@bp.app_template_filter("exercise_clock")
def exercise_clock(seconds) -> str:
    return clock(max(0, int(seconds or 0))) or ""


def _join_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _join_attempt(response) -> bool:
    """What the join limit counts: every join, and every look-up of a code that is not open (a 404 tells it apart
    from a live code, so those are guesses). Opening a real code's page is free: a room of participants behind one
    address all open it."""
    return request.method == "POST" or response.status_code == 404


@bp.route("/join", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_join_limit, methods=["POST"])
def join():
    """Join a session with the code the trainer shows."""
    form = JoinCodeForm(code=request.args.get("code", ""))
    if not form.validate_on_submit():
        return render_template("tabletop/join.html", form=form, live=None)
    live = services.find_by_code(form.code.data)
    if live is None:
        form.code.errors.append(_no_session_message())
        return render_template("tabletop/join.html", form=form, live=None)
    if participant_for(live) is not None:
        return _enter(live, None)
    if current_user.is_authenticated:
        return _enter(live, services.join(live, user=current_user))
    if not live.allow_guests:
        return _ask_to_sign_in(live)
    return redirect(url_for("tabletop.join_code", code=live.join_code))


@bp.route("/join/<code>", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_join_limit, deduct_when=_join_attempt)
def join_code(code):
    """The join page of one session (the link and QR code lead here): join as yourself or as a guest."""
    live = services.find_by_code(code)
    if live is None:
        form = JoinCodeForm(formdata=None, code=code[:12])
        form.code.errors = [_no_session_message()]
        return render_template("tabletop/join.html", form=form, live=None), 404
    if participant_for(live) is not None:
        return _enter(live, None)
    if current_user.is_authenticated:
        form = JoinForm()
        if form.validate_on_submit():
            return _enter(live, services.join(live, user=current_user))
        return render_template("tabletop/join.html", live=live, form=form)
    if not live.allow_guests:
        if request.method == "POST":
            return _ask_to_sign_in(live)
        return render_template("tabletop/join.html", live=live, form=None)
    form = GuestForm()
    if form.validate_on_submit():
        participant = services.join(live, guest_name=form.name.data, guest_institution=form.institution.data)
        remember_guest(participant)
        return _enter(live, participant)
    return render_template("tabletop/join.html", live=live, form=form)


def _no_session_message() -> str:
    return _("No open session has this code. Check it with your trainer: a session that has ended cannot be joined.")


def _ask_to_sign_in(live):
    flash(_("This session is for signed-in users. Sign in and you will come back to join it."), "info")
    return redirect(url_for("accounts.login", next=url_for("tabletop.join_code", code=live.join_code)))


def _enter(live, joined):
    """Commit a new participant (None: already in) and open the play page."""
    if joined is not None:
        db.session.commit()
        flash(_('You have joined "%(title)s".', title=live.title), "success")
    return redirect(url_for("tabletop.play", session_id=live.id))


def _play_page(live, participant, drafts=None, error=None, status=200):
    scenario = services.scenario_of(live)
    rows = services.events_of(live)
    state = engine.fold([row.as_engine_event() for row in rows], scenario)
    role_code = state.roles.get(participant.id)
    localised = scenario_translations.localised(scenario.slug, current_tag())
    role = next((role for role in scenario.roles if role.code == role_code), None)
    role_log = [
        localised.entry(scenario, decision_entry(row.payload, state, scenario))
        for row in reversed(rows)
        if row.kind == engine.DECIDED and engine.sees(row.audience, participant.id, role_code)
    ]
    return render_template(
        "tabletop/play.html",
        live=live,
        participant=participant,
        scenario=scenario,
        state=state,
        role=role,
        role_text=localised.role(role.code, role.title, role.brief) if role else None,
        localised=localised,
        cards=visible_cards(state, scenario, participant.id, localised),
        role_log=role_log,
        drafts=drafts or {},
        error=error,
        elapsed=state.elapsed_seconds(utcnow()),
    ), status


@bp.get("/exercises/play/<int:session_id>")
@allow(PUBLIC)
def play(session_id):
    """The participant's page: role brief, clock, the feed of their injects, their decisions, the role log."""
    live, participant = load_participant(session_id)
    ensure_ticker(current_app._get_current_object())
    return _play_page(live, participant)


@bp.get("/exercises/play/<int:session_id>/injects/<inject_id>")
@allow(PUBLIC)
def inject_card(session_id, inject_id):
    """One inject card as HTML, for the live page to insert; only if the viewer may see that inject."""
    live, participant = load_viewer(session_id, as_participant=request.args.get("view") == "participant")
    scenario = services.scenario_of(live)
    state = services.state_of(live)
    release = state.releases.get(inject_id)
    if release is None or (
        participant is not None and not engine.sees(release.audience, participant.id, state.roles.get(participant.id))
    ):
        abort(404)
    localised = scenario_translations.localised(scenario.slug, current_tag()) if participant else None
    card = build_card(state, scenario, inject_id, participant.id if participant else None, localised)
    return render_template(
        "tabletop/_inject.html", live=live, card=card, draft=None, viewer="participant" if participant else "trainer"
    )


@bp.post("/exercises/play/<int:session_id>/decisions")
@allow(PUBLIC)
def decide(session_id):
    """Record the participant's answer to an inject once; a form post or a fetch from the live page."""
    live, participant = load_participant(session_id)
    form = DecisionForm()
    inject_id = (form.inject_id.data or "")[:80]
    if not form.validate():
        message = next(error for errors in form.errors.values() for error in errors)
        return _refused(live, participant, form, inject_id, message)
    try:
        row = services.decide(live, participant, inject_id, form.option.data or None, form.rationale.data or "")
    except engine.EngineError as error:
        db.session.rollback()
        return _refused(live, participant, form, inject_id, str(error))
    if row is None:
        return _answered(
            live,
            participant,
            inject_id,
            _("You have already answered this inject; your first answer counts."),
            409,
            "info",
        )
    db.session.commit()
    return _answered(live, participant, inject_id, _("Your answer is recorded."), 200, "success")


def _answered(live, participant, inject_id, message, status, category):
    if wants_json():
        state, scenario = services.state_of(live), services.scenario_of(live)
        localised = scenario_translations.localised(scenario.slug, current_tag())
        card = build_card(state, scenario, inject_id, participant.id, localised)
        html = render_template("tabletop/_inject.html", live=live, card=card, draft=None, viewer="participant")
        return jsonify(ok=status == 200, message=message, card_html=html), status
    flash(message, category)
    return redirect(url_for("tabletop.play", session_id=live.id, _anchor=f"inject-{inject_id}"))


def _refused(live, participant, form, inject_id, message):
    """Nothing recorded: the message, and the page again with what the participant typed still in the form."""
    if wants_json():
        return jsonify(ok=False, message=message), 400
    draft = {"option": form.option.data or "", "rationale": form.rationale.data or "", "error": message}
    return _play_page(live, participant, drafts={inject_id: draft}, error=message, status=400)
