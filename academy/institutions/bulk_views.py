"""Bulk enrolment pages: upload a CSV, preview every row, import all rows or none."""
import logging
import math

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.exc import SQLAlchemyError

from academy.accounts.jobs import deliver_mail
from academy.accounts.models import TRACK_LABELS, Role, User
from academy.core.pagination import page_number
from academy.core.permissions import allow
from academy.core.security import max_upload_label
from academy.core.urls import absolute_url
from academy.extensions import db
from academy.institutions import bulk, permissions, services
from academy.institutions.bulk_forms import ConfirmForm, UploadForm
from academy.institutions.models import BulkImport
from academy.institutions.views import bp

log = logging.getLogger(__name__)

PREVIEW_PAGE_SIZE = 100
TEMPLATE_URL_FILE = "templates/bulk-enrolment-template.csv"


class ListPage(Pagination):
    """Pages over rows already in memory, for the shared pagination macro."""

    def _query_items(self) -> list:
        start = (self.page - 1) * self.per_page
        return self._query_args["rows"][start:start + self.per_page]

    def _query_count(self) -> int:
        return len(self._query_args["rows"])


def _page_of(rows: list) -> ListPage:
    page = min(page_number(), max(1, math.ceil(len(rows) / PREVIEW_PAGE_SIZE)))
    return ListPage(page=page, per_page=PREVIEW_PAGE_SIZE, max_per_page=None, error_out=False, rows=rows)


def _validity() -> str:
    seconds = current_app.config["PASSWORD_RESET_MAX_AGE"]
    if seconds >= 3600 and seconds % 3600 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", seconds // 3600)
    return ngettext("%(num)d minute", "%(num)d minutes", max(1, seconds // 60))


def _send_invitations(invitations: list[bulk.Invitation], institution, inviter) -> None:
    """Queue an e-mail to each new person with a link to choose a password; the job worker sends them."""
    renew, validity = absolute_url("accounts.request_reset"), _validity()
    subject = _("You are invited to the Western Balkans Cybersecurity Academy")
    for invitation in invitations:
        link = absolute_url("accounts.reset_password", token=invitation.token)
        courses = ", ".join(invitation.courses) or _("none yet")
        body = _("Hello %(name)s,\n\n%(inviter)s has added you to %(institution)s on the Western Balkans "
                 "Cybersecurity Academy. Your courses: %(courses)s.\n\nChoose your password with this link; it "
                 "works once, for %(validity)s:\n\n%(link)s\n\nIf it has expired, ask for a new link here "
                 "with your e-mail address %(email)s:\n\n%(renew)s\n",
                 name=invitation.name, inviter=inviter.name, institution=institution.name, courses=courses,
                 validity=validity, link=link, email=invitation.email, renew=renew)
        deliver_mail(invitation.email, subject, body)


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
            return redirect(url_for("institutions.bulk_preview", institution_id=institution.id,
                                    import_id=bulk_import.id))
    courses = sorted({c.slug: c for c in bulk.course_index().values()}.values(), key=lambda c: c.title)
    return render_template("institutions/bulk_upload.html", institution=institution, form=form,
                           recent=bulk.recent_imports(institution, current_user), courses=courses,
                           tracks=TRACK_LABELS, template_file=TEMPLATE_URL_FILE, max_rows=bulk.MAX_ROWS,
                           max_size=max_upload_label(),
                           example=",".join(bulk.COLUMNS))


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
    return render_template("institutions/bulk_preview.html", institution=institution, bulk_import=bulk_import,
                           check=check, page=_page_of(rows), only_problems=only_problems, imported=imported,
                           uploader=uploader, titles=titles,
                           confirm_form=ConfirmForm(fingerprint=check.fingerprint))


@bp.post("/<int:institution_id>/enrolments/imports/<int:import_id>/confirm")
@allow(Role.MANAGER, Role.ADMIN)
def bulk_confirm(institution_id, import_id):
    """Import every row of a previewed upload in one transaction, once."""
    institution = _load_institution(institution_id)
    bulk_import = bulk.load_import(institution, import_id, current_user)
    preview = url_for("institutions.bulk_preview", institution_id=institution.id, import_id=bulk_import.id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The confirmation was incomplete. Look at the preview and confirm again."), "danger")
        return redirect(preview)
    try:
        if not bulk.claim(bulk_import):
            db.session.rollback()
            flash(_("This file has already been imported; here is what was done."), "info")
            return redirect(preview)
        invitations = bulk.run_import(bulk_import, institution, current_user, form.fingerprint.data)
    except bulk.ImportRefused as refusal:
        db.session.rollback()
        flash(str(refusal), "danger")
        return redirect(preview)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("Bulk import %s failed and was rolled back", import_id)
        flash(_("Nothing was imported: the database refused the change, probably because someone registered "
                "or another import added some of these people at the same moment. The preview below shows the "
                "current state; check it and confirm again."), "danger")
        return redirect(preview)
    db.session.commit()
    result = bulk_import.result
    flash(_("Import complete: %(invited)d people invited, %(enrolments)d enrolments added.",
            invited=result["invited"], enrolments=result["enrolments"]), "success")
    _send_invitations(invitations, institution, current_user)
    return redirect(preview)
