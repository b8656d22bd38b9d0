"""The manager dashboard and the completion report (its form, the CSV, and PDF or XLSX jobs), on the institutions
blueprint."""

from datetime import date, datetime

from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from academy.accounts.models import Role, Track
from academy.core import audit, background
from academy.core.pagination import paginate_list
from academy.core.permissions import allow
from academy.extensions import db
from academy.institutions import dashboard_cache, exports, people, permissions, report_jobs, reporting
from academy.institutions.report_forms import CompletionReportForm, DashboardFilterForm
from academy.institutions.views import bp
from academy.organisations import services

LEFT_SHOWN = 50  # the dashboard lists this many people who left; the report lists them all


def _load(institution_id: int):
    institution = services.load_institution(institution_id, current_user)
    if not permissions.can_view_staff(current_user, institution):
        abort(403)
    return institution


SORT_KEYS = {
    "name": (lambda p: (p.name.lower(), p.user_id), False),
    "progress": (lambda p: (-1 if p.progress_percent is None else p.progress_percent, p.completed), True),
    "activity": (lambda p: (p.last_activity is not None, p.last_activity or datetime.min), True),
}


def completion_by_track(report: reporting.CompletionReport) -> list[reporting.CourseSummary]:
    """The summary figures per role track of the staff (people without a track last)."""
    order = [t.value for t in Track] + [""]
    grouped: dict[str, list[reporting.PersonRow]] = {}
    for row in report.people:
        grouped.setdefault(row.track, []).append(row)
    return [
        reporting.summarise(
            track,
            rows[0].track_label or _("No track"),
            [r for r in rows if r.course_slug],
            len({r.user_id for r in rows}),
        )
        for track, rows in sorted(grouped.items(), key=lambda item: order.index(item[0]))
    ]


def completions_over_time(report: reporting.CompletionReport) -> list[tuple[str, int]]:
    """Completions in the period per month (per year when the period is longer than two years)."""
    first, last = report.period.date_from, report.period.date_to
    yearly = (last.year - first.year) * 12 + last.month - first.month >= 24
    buckets: dict[str, int] = {}
    month = date(first.year, first.month, 1)
    while month <= last:
        buckets.setdefault(f"{month.year}" if yearly else f"{month:%Y-%m}", 0)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    for row in report.people:
        if row.completed_in_period and row.completed_at is not None:
            buckets[f"{row.completed_at.year}" if yearly else f"{row.completed_at:%Y-%m}"] += 1
    return list(buckets.items())


@bp.get("/<int:institution_id>/dashboard")
@allow(Role.MANAGER, Role.ADMIN)
def dashboard(institution_id):
    """Who on the staff is trained: figures, charts and the staff table, with filters."""
    institution = _load(institution_id)
    cache, key = dashboard_cache.figures_cache(), dashboard_cache.page_key(institution)
    figures = cache.get(key)
    if figures is None:
        figures = _render_figures(institution)
        cache.put(key, figures)
    return render_template("institutions/dashboard.html", institution=institution, figures=figures)


def _render_figures(institution) -> Markup:
    """The dashboard below the navigation, from the completion report: the same for everyone who may see it."""
    courses = reporting.report_courses(institution)
    filters = DashboardFilterForm(request.args, courses)
    notices = filters.drop_invalid()
    period = filters.period()
    filters.date_from.data, filters.date_to.data = period.date_from, period.date_to
    report = reporting.completion_report(institution, period.date_from, period.date_to, course_ids=filters.course_ids())
    staff = people.people_summaries(report.people, report.exercises)
    if filters.track.data:
        staff = [p for p in staff if p.track == filters.track.data]
    if filters.status.data:
        staff = [p for p in staff if p.status == filters.status.data]
    key, reverse = SORT_KEYS.get(filters.sort.data, SORT_KEYS["name"])
    staff.sort(key=key, reverse=reverse)
    left = people.people_summaries(report.left, report.exercises)
    report_form = CompletionReportForm(
        None,
        courses,
        data={
            "date_from": period.date_from,
            "date_to": period.date_to,
            "course": [filters.course.data] if filters.course_ids() else [],
        },
    )
    return Markup(
        render_template(
            "institutions/_dashboard_figures.html",
            institution=institution,
            report=report,
            filters=filters,
            notices=notices,
            staff=paginate_list(staff),
            filtered=bool(filters.track.data or filters.status.data),
            left=left[:LEFT_SHOWN],
            left_total=len(left),
            by_track=completion_by_track(report),
            over_time=completions_over_time(report),
            report_form=report_form,
            status_labels=reporting.STATUS_LABELS,
        )
    )


@bp.route("/<int:institution_id>/reports/completion", methods=["GET", "POST"])
@allow(Role.MANAGER, Role.ADMIN)
def completion_report(institution_id):
    """The report form; posted, the CSV at once or a PDF or XLSX job's page. A GET link with ?format=csv downloads."""
    institution = _load(institution_id)
    courses = reporting.report_courses(institution)
    if request.method == "GET" and request.args.get("format") != "csv":
        period = reporting.default_period()
        form = CompletionReportForm(None, courses, data={"date_from": period.date_from, "date_to": period.date_to})
        if request.args:  # a link with its values (or an old bookmark of a PDF): the form, filled in
            form = CompletionReportForm(request.args, courses, meta={"csrf": False})
            form.validate()
        return render_template("institutions/report_form.html", institution=institution, form=form)
    form = (
        CompletionReportForm(request.form, courses)
        if request.method == "POST"
        else CompletionReportForm(request.args, courses, meta={"csrf": False})
    )
    if not form.validate():
        return render_template("institutions/report_form.html", institution=institution, form=form), 400
    period, fmt = form.period(), form.format.data
    if fmt in report_jobs.JOB_FORMATS:
        job, new = report_jobs.request_report_file(
            institution, period, form.course_ids(), fmt, requester=f"user:{current_user.id}", user_id=current_user.id
        )
        job_id = job.id
        db.session.commit()
        if new:
            background.start(job_id)
        return redirect(url_for("core.job", job_id=job_id), 303)
    chosen = form.course_ids()
    report = reporting.completion_report(
        institution, period.date_from, period.date_to, course_ids=chosen, courses=courses if chosen is None else None
    )
    body = exports.render(report, fmt)
    audit.record(
        "export.download",
        target=institution.name,
        institution_id=institution.id,
        report="completion",
        format=fmt,
        date_from=period.date_from.isoformat(),
        date_to=period.date_to.isoformat(),
        courses=report.course_slugs,
        verification_code=report.verification_code,
    )
    db.session.commit()
    return Response(
        body,
        content_type=exports.MIMETYPES[fmt],
        headers={
            "Content-Disposition": f"attachment; filename={exports.filename(report, fmt)}",
            "Cache-Control": "private, no-store",
        },
    )
