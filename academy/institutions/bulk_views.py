"""Bulk enrolment pages: upload a CSV, preview every row, import all rows or none."""

import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from academy.accounts.models import TRACK_LABELS, Role, User
from academy.core import background
from academy.core.pagination import paginate_list
from academy.core.permissions import allow
from academy.core.security import max_upload_label
from academy.extensions import db
from academy.institutions import bulk, permissions
from academy.institutions import enrolment_import as importing
from academy.institutions.bulk_forms import ConfirmForm, UploadForm
from academy.institutions.models import BulkImport
from academy.institutions.views import bp
from academy.organisations import services

log = logging.getLogger(__name__)

PREVIEW_PAGE_SIZE = 100
TEMPLATE_URL_FILE = "templates/bulk-enrolment-template.csv"


def _load_institution(institution_id: int):
    institution = services.load_institution(institution_id, current_user)
    if not permissions.can_view_staff(current_user, institution):
        abort(403)
    return institution


@bp.route("/<int:institution_id>/enrolments/upload", methods=["GET", "POST"])
@allow(Role.MANAGER, Role.ADMIN)
def bulk_upload(institution_id):
    """Upload a CSV of staff to enrol; a readable file is kept and previewed."""
    institution = _load_institution(institution_id)
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            rows = bulk.parse_csv(upload.read())
        except bulk.CsvFileError as error:
            form.file.errors.append(str(error))
        else:
            bulk_import = bulk.store_upload(institution, current_user, upload.filename, rows)
            db.session.commit()
            return redirect(
                url_for("institutions.bulk_preview", institution_id=institution.id, import_id=bulk_import.id)
            )
    courses = sorted({c.slug: c for c in bulk.course_index().values()}.values(), key=lambda c: c.title)
    return render_template(
        "institutions/bulk_upload.html",
        institution=institution,
        form=form,
        recent=bulk.recent_imports(institution, current_user),
        courses=courses,
        tracks=TRACK_LABELS,
        template_file=TEMPLATE_URL_FILE,
        max_rows=bulk.MAX_ROWS,
        max_size=max_upload_label(),
        example=",".join(bulk.COLUMNS),
    )


@bp.get("/<int:institution_id>/enrolments/imports/<int:import_id>")
@allow(Role.MANAGER, Role.ADMIN)
def bulk_preview(institution_id, import_id):
    """Every row of an upload with its outcome or problems; after the import, what was done."""
    institution = _load_institution(institution_id)
    bulk_import = bulk.load_import(institution, import_id, current_user)
    imported = bulk_import.status == BulkImport.IMPORTED
    check = bulk.imported_rows(bulk_import) if imported else bulk.check_rows(institution, bulk_import.rows)
    only_problems = request.args.get("show") == "problems"
    rows = [row for row in check.rows if row.kind == bulk.ERROR] if only_problems else check.rows
    uploader = db.session.get(User, bulk_import.uploaded_by_id) if bulk_import.uploaded_by_id else None
    titles = {c.slug: c.title for c in bulk.course_index().values()}
    return render_template(
        "institutions/bulk_preview.html",
        institution=institution,
        bulk_import=bulk_import,
        check=check,
        page=paginate_list(rows, PREVIEW_PAGE_SIZE),
        only_problems=only_problems,
        imported=imported,
        uploader=uploader,
        titles=titles,
        confirm_form=ConfirmForm(fingerprint=check.fingerprint),
    )


@bp.post("/<int:institution_id>/enrolments/imports/<int:import_id>/confirm")
@allow(Role.MANAGER, Role.ADMIN)
def bulk_confirm(institution_id, import_id):
    """Import every row of a previewed upload in one transaction, once: a large file as a job, with a progress page."""
    institution = _load_institution(institution_id)
    bulk_import = bulk.load_import(institution, import_id, current_user)
    preview = url_for("institutions.bulk_preview", institution_id=institution.id, import_id=bulk_import.id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The confirmation was incomplete. Look at the preview and confirm again."), "danger")
        return redirect(preview)
    if len(bulk_import.rows) > current_app.config["BULK_IMPORT_JOB_ROWS"]:
        job, new = importing.request_import_job(bulk_import, form.fingerprint.data, current_user)
        job_id = job.id
        db.session.commit()
        if new:
            background.start(job_id)
        return redirect(url_for("core.job", job_id=job_id), 303)
    try:
        if not importing.claim(bulk_import):
            db.session.rollback()
            flash(_("This file has already been imported; here is what was done."), "info")
            return redirect(preview)
        invitations = importing.run_import(bulk_import, institution, current_user, form.fingerprint.data)
    except importing.ImportRefused as refusal:
        db.session.rollback()
        flash(str(refusal), "danger")
        return redirect(preview)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("Bulk import %s failed and was rolled back", import_id)
        flash(str(importing.DATABASE_REFUSED), "danger")
        return redirect(preview)
    db.session.commit()
    result = bulk_import.result
    flash(
        _(
            "Import complete: %(invited)d people invited, %(enrolments)d enrolments added.",
            invited=result["invited"],
            enrolments=result["enrolments"],
        ),
        "success",
    )
    importing.send_invitations(invitations, institution, current_user)
    return redirect(preview)
