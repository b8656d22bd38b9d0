"""Account forms; labels and messages are translatable."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from academy.accounts.emails import EmailAddressError, canonical_email
from academy.accounts.models import TRACK_LABELS
from academy.core.forms import Form, choices


class AccountEmail:
    """An address an account can have: valid once folded, and in one alphabet (accounts/emails.py)."""

    def __call__(self, form, field):
        try:
            canonical_email(field.data)
        except EmailAddressError as error:
            raise ValidationError(str(error)) from error


def track_choices():
    return choices(
        [("", _l("Choose your professional track"))] + [(t.value, label) for t, label in TRACK_LABELS.items()]
    )


class LoginForm(Form):
    email = EmailField(
        _l("E-mail address"), validators=[DataRequired(), Length(max=255)], render_kw={"autocomplete": "username"}
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=256)], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class RegisterForm(Form):
    invitation_code = StringField(
        _l("Invitation code"),
        validators=[DataRequired(), Length(min=6, max=32)],
        description=_l("Your institution's manager gives you this code."),
        render_kw={"autocomplete": "off", "autocapitalize": "characters"},
    )
    name = StringField(
        _l("Full name"), validators=[DataRequired(), Length(max=120)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        _l("Work e-mail address"),
        validators=[DataRequired(), Length(max=255), AccountEmail()],
        render_kw={"autocomplete": "email"},
    )
    track = SelectField(
        _l("Professional track"),
        choices=track_choices,
        validators=[DataRequired()],
        description=_l("We suggest the courses that matter to your role."),
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=256)],
        description=_l("At least 10 characters. A short sentence is easy to remember."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class ResetRequestForm(Form):
    email = EmailField(
        _l("E-mail address"),
        validators=[DataRequired(), Length(max=255), AccountEmail()],
        render_kw={"autocomplete": "email"},
    )


class ResetPasswordForm(Form):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=256)],
        description=_l("At least 10 characters."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(ResetPasswordForm):
    """A new password, as on the reset page, and the current one first."""

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )


class TokenForm(Form):
    name = StringField(
        _l("Token name"),
        validators=[DataRequired(), Length(max=80)],
        description=_l('What will use it, e.g. "HR system".'),
    )
