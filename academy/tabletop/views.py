"""The tabletop blueprint: trainer console, participant view, live stream and reports register on it."""
from flask import Blueprint

bp = Blueprint("tabletop", __name__)
