"""Form helpers shared by the features, the base class of every form, and the CSRF token of pages."""

from flask import current_app, g, session
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from wtforms import IntegerField, PasswordField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange

from academy.core.text import clean_line, clean_text

# Form numbers are ids or small counts: a larger one would overflow the database's integer (a 500).
DATABASE_INT = NumberRange(-(2**31), 2**31 - 1, message=_l("This number is too large."))


def choices(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs; labels may be lazy translations."""
    return [SelectChoice(value, label) for value, label in pairs]


class Form(FlaskForm):
    """Every form's base: text arrives without control characters and numbers fit the database, whatever the form.

    tests/core/test_odd_input.py checks that each form of the academy inherits it."""

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, TextAreaField):
                field.filters = (clean_text, *field.filters)
            elif isinstance(field, StringField) and not isinstance(field, PasswordField):
                # A password is compared and hashed, never shown: it is kept exactly as typed.
                field.filters = (clean_line, *field.filters)
            elif isinstance(field, IntegerField):
                field.validators = [*field.validators, DATABASE_INT]
            return field


TOKENS_KEPT = 4096  # signed CSRF tokens per process; when full, it starts again


def csrf_token() -> str:
    """flask_wtf's generate_csrf, as the templates' csrf_token(), signing each session's token once per process.

    Flask-WTF signs the session's raw token again for every page (a timestamped signature, checked against
    WTF_CSRF_TIME_LIMIT). With no time limit (academy/config.py) a signature never grows too old, so the signed token
    made for a session's raw token is kept and handed out again, and checked exactly as before.
    """
    config = current_app.config
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if field in g or config.get("WTF_CSRF_TIME_LIMIT", 3600) is not None:
        return generate_csrf()
    tokens = current_app.extensions.setdefault("signed_csrf_tokens", {})
    raw = session.get(field)
    token = tokens.get((current_app.secret_key, config.get("WTF_CSRF_SECRET_KEY"), raw)) if raw else None
    if token is None:
        token = generate_csrf()  # the first page of a session also makes its raw token: kept from this one on
        if len(tokens) >= TOKENS_KEPT:
            tokens.clear()
        tokens[(current_app.secret_key, config.get("WTF_CSRF_SECRET_KEY"), session[field])] = token
    else:
        setattr(g, field, token)  # as generate_csrf does: the page's forms (form.csrf_token too) share it
    return token
