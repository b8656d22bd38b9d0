"""Form helpers shared by the features, and the base class of every form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
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
