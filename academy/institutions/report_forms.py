"""The dashboard's filters (read from the query string) and the completion report's form (posted: a PDF or XLSX
starts a job)."""

from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, SelectMultipleField
from wtforms.validators import AnyOf, Optional, ValidationError

from academy.accounts.models import Track
from academy.core.forms import Form, choices
from academy.institutions import reporting

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
FORMATS = (("pdf", "PDF"), ("xlsx", _l("Excel (XLSX)")), ("csv", "CSV"))
STATUSES = (
    (reporting.NOT_STARTED, _l("Not started")),
    (reporting.IN_PROGRESS, _l("In progress")),
    (reporting.COMPLETE, _l("Complete")),
)
SORTS = (
    ("name", _l("Name")),
    ("progress", _l("Progress (highest first)")),
    ("activity", _l("Last activity (most recent first)")),
)


class _PeriodForm(Form):
    """The period's two dates and their checks, shared by both forms."""

    date_from = DateField(
        _l("From"), name="from", validators=[Optional()], description=_l("First day of the period (UTC), included.")
    )
    date_to = DateField(
        _l("To"), name="to", validators=[Optional()], description=_l("Last day of the period (UTC), included.")
    )

    def validate_date_from(self, field):
        if field.data and not EARLIEST <= field.data <= LATEST:
            raise ValidationError(_l("Choose a date between 2000 and 2100."))

    def validate_date_to(self, field):
        if field.data and not EARLIEST <= field.data <= LATEST:
            raise ValidationError(_l("Choose a date between 2000 and 2100."))
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(
                _l(
                    "The end date (%(end)s) is before the start date (%(start)s): choose an end "
                    "date on or after the start date.",
                    end=field.data.isoformat(),
                    start=self.date_from.data.isoformat(),
                )
            )

    def period(self) -> reporting.Period:
        """The chosen period; a missing end is today, a missing start twelve months before the end."""
        default = reporting.default_period()
        end = self.date_to.data or default.date_to
        start = self.date_from.data or reporting.default_period(end).date_from
        return reporting.Period(start, end) if start <= end else default


class DashboardFilterForm(_PeriodForm):
    """A GET form: nothing changes, so no CSRF token; the values come from the query string."""

    class Meta:
        csrf = False

    course = SelectField(_l("Course"), validators=[Optional()])
    track = SelectField(
        _l("Track"),
        validators=[Optional()],
        choices=choices([("", _l("All tracks"))] + [(t.value, t.label) for t in Track]),
    )
    status = SelectField(
        _l("Status"), validators=[Optional()], choices=choices([("", _l("Any status"))] + list(STATUSES))
    )
    sort = SelectField(_l("Sort by"), validators=[Optional()], choices=choices(SORTS), default="name")

    def __init__(self, formdata, courses, **kwargs):
        super().__init__(formdata=formdata, **kwargs)
        self.course.choices = choices([("", _l("All courses"))] + [(slug, title) for _id, slug, title in courses])
        self._course_ids = {slug: course_id for course_id, slug, _title in courses}

    def course_ids(self) -> list[int] | None:
        return [self._course_ids[self.course.data]] if self.course.data in self._course_ids else None

    def drop_invalid(self) -> list[str]:
        """Validate, put every refused value back to its default and say what was ignored."""
        if self.validate():
            return []
        notices = []
        for name, errors in self.errors.items():
            field = self[name]
            if name in ("date_from", "date_to"):
                notices.append(
                    _l(
                        "%(field)s: %(error)s The last twelve months are shown instead.",
                        field=field.label.text,
                        error=errors[0],
                    )
                )
                self.date_from.data = self.date_to.data = None
            else:
                notices.append(
                    _l("%(field)s: %(error)s This filter was ignored.", field=field.label.text, error=errors[0])
                )
                field.data = field.default
        return [str(notice) for notice in notices]


class CompletionReportForm(_PeriodForm):
    """Posted with a CSRF token: a PDF or XLSX becomes a job of the job worker. A GET link to the CSV (no token)
    reads its values from the query string with meta={"csrf": False}."""

    course = SelectMultipleField(_l("Courses"), validate_choice=False, description=_l("Leave empty for every course."))
    format = SelectField(
        _l("Format"),
        choices=choices(FORMATS),
        default="pdf",
        validators=[AnyOf([value for value, _label in FORMATS], message=_l("Choose PDF, XLSX or CSV."))],
    )

    def __init__(self, formdata, courses, **kwargs):
        super().__init__(formdata=formdata, **kwargs)
        self.course.choices = choices([(slug, title) for _id, slug, title in courses])
        self._course_ids = {slug: course_id for course_id, slug, _title in courses}

    def validate_course(self, field):
        field.data = [slug for slug in field.data or [] if slug]  # an empty choice means every course
        unknown = [slug for slug in field.data if slug not in self._course_ids]
        if unknown:
            raise ValidationError(_l("Unknown course: %(slugs)s.", slugs=", ".join(unknown[:5])))

    def course_ids(self) -> list[int] | None:
        return [self._course_ids[slug] for slug in self.course.data] if self.course.data else None
