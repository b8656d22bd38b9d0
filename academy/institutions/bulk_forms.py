"""Forms of the bulk enrolment: the upload and the confirmation of a preview."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from academy.institutions.bulk import MAX_BYTES


class UploadForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(_l("Choose a CSV file to upload.")),
                    FileAllowed(["csv"], _l("Only .csv files can be uploaded. In your spreadsheet choose "
                                            "\u201cSave as\u201d \u203a \u201cCSV UTF-8\u201d.")),
                    FileSize(MAX_BYTES, message=_l("The file is larger than 2 MB. Split it into several files."))],
        description=_l("Columns email, name, track, courses; UTF-8; commas or semicolons between columns; "
                       "at most 10,000 rows and 2 MB."),
        render_kw={"accept": ".csv,text/csv"},
    )


class ConfirmForm(FlaskForm):
    fingerprint = HiddenField(validators=[DataRequired(), Length(max=64)])
