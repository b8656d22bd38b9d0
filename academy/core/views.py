"""Home page and health check."""

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from academy.core.health import database_writable
from academy.core.permissions import PUBLIC, allow
from academy.extensions import db

bp = Blueprint("core", __name__)


@bp.get("/")
@allow(PUBLIC)
def index():
    """Landing page for visitors, role-aware start page for signed-in users."""
    if current_user.is_authenticated:
        return redirect(url_for("learning.home"))
    return render_template("core/landing.html")


@bp.get("/healthz")
@allow(PUBLIC)
def healthz():
    """Liveness for load balancers: 503 unless the database answers and can take a write."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    if not database_writable():  # a full disk or a read-only database: every write would answer 500
        return jsonify(status="error", database="read-only"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/languages")
@allow(PUBLIC)
def languages():
    """The academy's languages and how much of the interface, each course and each scenario each one has."""
    from academy.core import locales
    from academy.core.content.coverage import content_coverage, ui_share

    shares, titles = content_coverage()
    return render_template(
        "core/languages.html", locales=locales.LOCALES, shares=shares, titles=titles, ui_share=ui_share
    )


# Background jobs' pages and files are on this blueprint too: create_app registers it whole.
from academy.core import job_views  # noqa: E402, F401
