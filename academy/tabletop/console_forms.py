"""The trainer console's forms; choices that depend on the session are set by the view."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from academy.core.forms import Form, choices

COMMANDS = ("start", "pause", "resume", "end")


def optional_int(value):
    return int(value) if value not in ("", None) else None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ConsoleForm(Form):
    technical = frozenset({"csrf_token"})  # fields the page fills in: their errors mean a stale or forged request


class NewSessionForm(Form):
    scenario = SelectField(_l("Scenario"), validators=[DataRequired(_l("Choose a scenario."))], validate_choice=False)
    title = StringField(
        _l("Session title"),
        validators=[Optional(), Length(max=200)],
        description=_l("Participants see it when they join. Leave it empty to use the scenario's title."),
    )
    allow_guests = BooleanField(_l("Allow guests without an account (they give their name and institution)"))
    nonce = HiddenField()

    def validate_scenario(self, field):
        if field.data not in {c.value for c in self.scenario.choices}:
            raise ValidationError(_l("Choose one of the available scenarios."))


class CommandForm(ConsoleForm):
    technical = ConsoleForm.technical | {"command"}
    command = SelectField(choices=choices((c, c) for c in COMMANDS), validators=[DataRequired()])
    confirm = BooleanField(_l("Yes, end the exercise for everyone"))

    def validate_confirm(self, field):
        if self.command.data == "end" and not field.data:
            raise ValidationError(_l("Tick the box to confirm: ending cannot be undone."))


class AssignForm(ConsoleForm):
    technical = ConsoleForm.technical | {"participant_id"}
    participant_id = IntegerField(validators=[InputRequired()])
    role = SelectField(_l("Role"), validators=[DataRequired(_l("Choose a role."))])


class ReleaseForm(ConsoleForm):
    technical = ConsoleForm.technical | {"inject_id"}
    inject_id = StringField(validators=[DataRequired(), Length(max=80)])
    participant_id = IntegerField(_l("Send to"), validators=[Optional()])


class ReleaseNextForm(ConsoleForm):
    technical = ConsoleForm.technical | {"expected"}
    # The inject the trainer saw as "next": a second click after it went out releases nothing more.
    expected = StringField(validators=[Optional(), Length(max=80)])
    participant_id = IntegerField(_l("Send to"), validators=[Optional()])


class AdhocForm(ConsoleForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(
        _l("What the recipients read"), validators=[DataRequired(), Length(max=4000)], render_kw={"rows": 4}
    )
    audience = RadioField(
        _l("Send to"),
        default="all",
        validators=[DataRequired()],
        choices=choices(
            [("all", _l("Everyone")), ("roles", _l("One or more roles")), ("participant", _l("One participant"))]
        ),
    )
    roles = MultiCheckboxField(_l("Roles"))
    participant_id = SelectField(_l("Participant"), coerce=optional_int, validate_choice=False)
    asks_response = BooleanField(_l("Asks for a response"))

    def validate_roles(self, field):
        if self.audience.data == "roles" and not field.data:
            raise ValidationError(_l("Choose at least one role."))

    def validate_participant_id(self, field):
        if self.audience.data == "participant" and field.data not in {c.value for c in field.choices if c.value}:
            raise ValidationError(_l("Choose the participant who receives this inject."))

    def release_audience(self) -> dict:
        """The audience as the engine stores it."""
        if self.audience.data == "roles":
            return {"roles": list(self.roles.data)}
        if self.audience.data == "participant":
            return {"participant": self.participant_id.data}
        return {"all": True}


class CloseForm(ConsoleForm):
    technical = ConsoleForm.technical | {"inject_id"}
    inject_id = StringField(validators=[DataRequired(), Length(max=80)])


class ObserveForm(ConsoleForm):
    text = TextAreaField(
        _l("Observation"),
        validators=[DataRequired(), Length(max=4000)],
        render_kw={"rows": 3},
        description=_l("Private: participants never see it. It appears in the after-action report."),
    )
    inject_id = SelectField(_l("About the inject"), validators=[Optional()])
    objective = SelectField(_l("Objective"), validators=[Optional()])


class OverrideForm(ConsoleForm):
    target = SelectField(_l("Adjust the score of"), validators=[DataRequired(_l("Choose an objective or a role."))])
    points = IntegerField(
        _l("Points"),
        validators=[
            InputRequired(_l("Give the points to add or take away.")),
            NumberRange(-10, 10, _l("Between -10 and 10.")),
        ],
        description=_l("From -10 to 10; negative takes points away."),
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Give the reason for the change.")), Length(max=1000)],
        render_kw={"rows": 2},
        description=_l("Recorded with the change and shown in the after-action report."),
    )

    def validate_points(self, field):
        if field.data == 0:
            raise ValidationError(_l("Zero points changes nothing."))

    def split_target(self) -> tuple[str | None, str | None]:
        """(objective, role) from the "objective:code" or "role:code" choice."""
        kind, _sep, code = (self.target.data or "").partition(":")
        return (code, None) if kind == "objective" else (None, code)
