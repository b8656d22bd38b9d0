"""The completion report as an A4 landscape PDF: header, verification code, totals, summary by course, definitions,
people (one row each, their courses a line each; the per-course rows are in the CSV and XLSX), people who left and
exercises attended. Written with core/tabular_pdf.py: 5,000 people in about a second, without any network access."""

from flask_babel import gettext as _

from academy.core.tabular_pdf import Column, Muted, TabularPdf
from academy.institutions.exports import moment_text, score_text, totals_rows
from academy.institutions.people import PersonSummary, people_summaries
from academy.institutions.reporting import STATUS_LABELS, CompletionReport

PEOPLE_SIZE = 7.5  # points: a person of several courses still fits in a row of a few lines


class _CourseLines:
    """A person's course as one line of text, with every fixed word translated once for the whole file."""

    def __init__(self):
        self.statuses = {status: str(label) for status, label in STATUS_LABELS.items()}
        self.completed = _("completed %(when)s")
        self.in_period = _("in the period")
        self.best = _("best quiz score %(score)d")
        self.not_enrolled = Muted(_("not enrolled"))

    def line(self, row) -> str:
        parts = [f"{row.course_title}: {row.progress_percent} % · {self.statuses[row.status]}"]
        if row.completed_at:
            when = self.completed % {"when": moment_text(row.completed_at)}
            parts.append(f"{when} ({self.in_period})" if row.completed_in_period else when)
        if row.best_score is not None:
            parts.append(self.best % {"score": row.best_score})
        return " · ".join(parts)

    def person(self, person: PersonSummary) -> list:
        return [
            [person.name, Muted(person.email)],
            person.track_label,
            [self.line(row) for row in person.courses] or [self.not_enrolled],
            [row.certificate_code for row in person.courses if row.certificate_code],
            moment_text(person.last_activity),
        ]


def report_pdf(report: CompletionReport, progress=None) -> bytes:
    """The PDF; `progress(share)` hears how far it has got, from 0 to 1, every few hundred people."""
    academy = _("Western Balkans Cybersecurity Academy")
    title = _("Completion report")
    code = report.verification_code
    running_head = f"{title} · {report.institution_name} · {report.period} · {_('Verification code')} {code}"
    with TabularPdf(
        title=f"{title} · {report.institution_name}",
        author=academy,
        created=report.generated_at,
        running_head=running_head,
    ) as doc:
        _write(doc, report, progress)
        return doc.output()


def _write(doc: TabularPdf, report: CompletionReport, progress) -> None:
    academy, title, code = _("Western Balkans Cybersecurity Academy"), _("Completion report"), report.verification_code
    doc.paragraph(academy, muted=True)
    doc.title(f"{title}: {report.institution_name}")
    doc.facts(
        [
            (_("Institution"), report.institution_name),
            (_("Country"), report.country),
            (_("Period"), str(report.period)),
            (_("Generated at (UTC)"), moment_text(report.generated_at)),
            (_("Verification code"), code),
        ]
    )
    doc.heading(_("Totals"))
    doc.facts(
        [
            (label, score_text(value, "—") if isinstance(value, float) or value is None else value)
            for label, value in totals_rows(report)
        ],
        label_width=0.3,
    )
    doc.heading(_("Summary by course"))
    doc.table(
        [
            Column(_("Course"), 0.34),
            Column(_("Staff counted"), 0.11, "R"),
            Column(_("Enrolled"), 0.11, "R"),
            Column(_("Complete"), 0.11, "R"),
            Column(_("Completed in the period"), 0.11, "R"),
            Column(_("Average best quiz score"), 0.11, "R"),
            Column(_("Certificates"), 0.11, "R"),
        ],
        [
            [
                s.title,
                s.staff,
                s.enrolled,
                s.complete,
                s.completed_in_period,
                score_text(s.average_best_score, "—"),
                s.certificates,
            ]
            for s in report.summary + [report.total]
        ],
    )
    doc.heading(_("Definitions"))
    doc.definitions(report.definitions)
    people, left = people_summaries(report.people, []), people_summaries(report.left, [])
    total = max(1, len(people) + len(left))
    lines = _CourseLines()
    columns = [
        Column(_("Name and e-mail"), 0.2),
        Column(_("Track"), 0.1),
        Column(_("Courses: progress, status, completion, best quiz score"), 0.49),
        Column(_("Certificates"), 0.1),
        Column(_("Last activity (UTC)"), 0.11),
    ]
    done = 0
    for heading, group in ((_("Staff"), people), (_("Left the institution"), left)):
        doc.heading(heading)
        if not group:
            doc.paragraph(_("None."), muted=True)
            continue
        doc.table(
            columns,
            map(lines.person, group),
            size=PEOPLE_SIZE,
            progress=progress and (lambda count, before=done: progress((before + count) / total)),
        )
        done += len(group)
    doc.heading(_("Exercises attended"))
    if report.exercises:
        doc.table(
            [
                Column(_("Name"), 0.18),
                Column(_("E-mail"), 0.2),
                Column(_("Date"), 0.08),
                Column(_("Exercise"), 0.18),
                Column(_("Scenario"), 0.16),
                Column(_("Role"), 0.12),
                Column(_("Score (%)"), 0.08, "R"),
            ],
            [
                [
                    f"{e.name} ({_('left')})" if e.left else e.name,
                    e.email,
                    e.date,
                    e.title,
                    e.scenario,
                    e.role,
                    e.score_percent,
                ]
                for e in report.exercises
            ],
        )
    else:
        doc.paragraph(_("No exercise in the period."), muted=True)
