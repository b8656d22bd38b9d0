"""The tabletop blueprint: trainer console, participant view, live stream and reports register on it."""

from flask import Blueprint

bp = Blueprint("tabletop", __name__)

# Each part of the exercise pages adds its routes to this blueprint: create_app registers it whole.
from academy.tabletop import console_views, participant_views, report_views, session_views, stream  # noqa: E402, F401
