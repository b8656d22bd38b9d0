"""The trainer's list of sessions and the form that starts a new one (a double submit makes one session)."""

import secrets

from flask import flash, redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext as _
from flask_login import current_user

from academy.accounts.models import User
from academy.core.forms import choices
from academy.core.models import utcnow
from academy.core.pagination import paginate
from academy.core.permissions import allow
from academy.extensions import db
from academy.tabletop import console_forms, services
from academy.tabletop.models import LiveSession, Participant, Scenario
from academy.tabletop.permissions import REPEAT_WINDOW, RUNNERS
from academy.tabletop.views import bp

NONCES = "tabletop_new_session_nonces"  # Flask-session: one-time token of a new-session form -> session id
KEPT_NONCES = 10


@bp.get("/exercises")
@allow(*RUNNERS)
def sessions():
    """The trainer's sessions (an admin's: everyone's) and the scenarios a new one can start from."""
    query = db.select(LiveSession).order_by(LiveSession.created_at.desc(), LiveSession.id.desc())
    if not current_user.is_admin:
        query = query.where(LiveSession.trainer_id == current_user.id)
    page = paginate(query)
    ids = [live.id for live in page.items]
    counts = dict(
        db.session.execute(
            db.select(Participant.session_id, db.func.count(Participant.id))
            .where(Participant.session_id.in_(ids))
            .group_by(Participant.session_id)
        ).all()
    )
    trainers = dict(
        db.session.execute(
            db.select(User.id, User.name).where(User.id.in_({live.trainer_id for live in page.items}))
        ).all()
    )
    return render_template(
        "tabletop/sessions.html",
        page=page,
        counts=counts,
        trainers=trainers,
        scenarios=[_scenario_card(s) for s in services.live_scenarios()],
    )


def _scenario_card(scenario: Scenario) -> dict:
    version = scenario.current_version
    assert version is not None  # live_scenarios() lists only scenarios that have a current version
    definition = version.definition
    return {
        "row": scenario,
        "version": version.number,
        "roles": [role["title"] for role in definition["roles"]],
        "injects": len(definition["injects"]),
    }


@bp.route("/exercises/new", methods=["GET", "POST"])
@allow(*RUNNERS)
def new_session():
    """Create a session from a scenario (pinning its current version) and open its console."""
    scenarios = {s.slug: s for s in services.live_scenarios()}
    form = console_forms.NewSessionForm()
    form.scenario.choices = choices([("", _("Choose a scenario"))] + [(s.slug, s.title) for s in scenarios.values()])
    if request.method == "GET":
        form.scenario.data = request.args.get("scenario", "")
        form.nonce.data = _issue_nonce()
    elif form.validate_on_submit():
        nonces = cookie.get(NONCES, {})
        done = db.session.get(LiveSession, nonces.get(form.nonce.data) or 0)
        if done is None:
            scenario = scenarios[form.scenario.data]
            done = _repeat_of(scenario, form.title.data) or services.create_session(
                current_user, scenario, form.title.data, form.allow_guests.data
            )
            db.session.commit()
            _spend_nonce(form.nonce.data, done.id)
            flash(_("Session created. Share the join code; start the clock when everyone is in."), "success")
        return redirect(url_for("tabletop.console", session_id=done.id))
    return render_template("tabletop/new_session.html", form=form, scenarios=scenarios)


def _issue_nonce() -> str:
    nonce = secrets.token_urlsafe(16)
    nonces = dict(list(cookie.get(NONCES, {}).items())[-KEPT_NONCES + 1 :])
    nonces[nonce] = None
    cookie[NONCES] = nonces
    return nonce


def _spend_nonce(nonce: str | None, session_id: int) -> None:
    if nonce:
        cookie[NONCES] = {**cookie.get(NONCES, {}), nonce: session_id}


def _repeat_of(scenario: Scenario, title: str) -> LiveSession | None:
    """The same session created by the same trainer a moment ago: a double submit the form token missed."""
    return db.session.scalar(
        db.select(LiveSession)
        .where(
            LiveSession.trainer_id == current_user.id,
            LiveSession.scenario_version_id == scenario.current_version_id,
            LiveSession.title == ((title or "").strip() or scenario.title),
            LiveSession.created_at >= utcnow() - REPEAT_WINDOW,
        )
        .order_by(LiveSession.id)
        .limit(1)
    )
