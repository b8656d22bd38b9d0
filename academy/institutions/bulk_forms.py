"""Forms of the bulk enrolment: the upload and the confirmation of a preview."""

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from academy.core.forms import Form
from academy.core.security import max_upload_label
from academy.institutions.bulk import MAX_ROWS


class UploadForm(Form):
    # Larger requests are refused before they reach the form (413); the content itself is checked by
    # bulk.parse_csv, since browsers name a .csv's type differently (text/csv, application/vnd.ms-excel).
    file = FileField(
        _l("CSV file"),
        validators=[
            FileRequired(_l("Choose a CSV file to upload.")),
            FileAllowed(
                ["csv"],
                _l(
                    "Only .csv files can be uploaded. In your spreadsheet choose "
                    "\u201cSave as\u201d \u203a \u201cCSV UTF-8\u201d."
                ),
            ),
        ],
        render_kw={"accept": ".csv,text/csv"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.file.description = _(
            "Columns email, name, track, courses; UTF-8; commas or semicolons between "
            "columns; at most %(rows)s rows and %(size)s.",
            rows=format_decimal(MAX_ROWS),
            size=max_upload_label(),
        )


class ConfirmForm(Form):
    fingerprint = HiddenField(validators=[DataRequired(), Length(max=64)])
