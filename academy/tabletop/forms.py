"""Participant forms: joining a session by code, as a guest, and answering a decision."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from academy.core.forms import Form

RATIONALE_MAX = 4000


class JoinCodeForm(Form):
    code = StringField(
        _l("Session code"),
        validators=[
            DataRequired(message=_l("Enter the code your trainer gave you.")),
            Length(max=12, message=_l("A session code has 6 characters.")),
        ],
        description=_l("Six letters and digits, shown on the trainer's screen."),
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )


class GuestForm(Form):
    name = StringField(
        _l("Your name"),
        validators=[DataRequired(message=_l("Enter your name.")), Length(min=2, max=120)],
        description=_l("Shown to the trainer and to the people who play your role."),
        render_kw={"autocomplete": "name"},
    )
    institution = StringField(
        _l("Your institution"),
        validators=[DataRequired(message=_l("Enter the institution you work for.")), Length(min=2, max=200)],
        render_kw={"autocomplete": "organization"},
    )


class JoinForm(Form):
    """A signed-in user's one-click join: only the CSRF token."""


class DecisionForm(Form):
    # The option and an empty rationale are checked by the engine, whose messages say exactly what is wrong.
    inject_id = HiddenField(
        validators=[DataRequired(message=_l("Choose the inject you are answering.")), Length(max=80)]
    )
    option = StringField(validators=[Optional(), Length(max=80)])
    rationale = TextAreaField(
        _l("Your rationale"),
        validators=[
            Length(max=RATIONALE_MAX, message=_l("Keep the rationale under %(max)d characters.", max=RATIONALE_MAX))
        ],
    )
