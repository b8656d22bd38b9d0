"""Admin forms."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from academy.accounts.models import ROLE_LABELS, TRACK_LABELS
from academy.core.audit import ACTIONS
from academy.core.forms import Form, choices
from academy.organisations.models import SECTOR_LABELS


class InstitutionForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    country = SelectField(_l("Country"), coerce=int, validators=[DataRequired()])
    sector = SelectField(
        _l("Sector"),
        choices=choices((s.value, label) for s, label in SECTOR_LABELS.items()),
        validators=[DataRequired()],
    )
    active = BooleanField(_l("Active (its invitation code can be used)"), default=True)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserAdminForm(Form):
    roles = MultiCheckboxField(_l("Roles"), choices=choices((r.value, label) for r, label in ROLE_LABELS.items()))
    institution = SelectField(_l("Institution"), coerce=int)
    track = SelectField(
        _l("Professional track"),
        choices=choices([("", _l("None"))] + [(t.value, label) for t, label in TRACK_LABELS.items()]),
    )
    active = BooleanField(_l("Account active"))


class AuditFilterForm(Form):
    class Meta:
        csrf = False

    action = SelectField(
        _l("Action"), choices=choices([("", _l("Any action"))] + sorted(ACTIONS.items())), validators=[Optional()]
    )
    actor = StringField(_l("Who (e-mail contains)"), validators=[Optional(), Length(max=255)])
    institution = SelectField(_l("Institution"), coerce=int, default=0, validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok and self.date_from.data and self.date_to.data and self.date_to.data < self.date_from.data:
            self.date_to.errors.append(_l("The end date is before the start date."))
            return False
        return ok
