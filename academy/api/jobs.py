"""API resources of background jobs: a report file asked for with format=pdf or xlsx answers 202 with the Location
of its job; polling the job answers 200 with its progress until it is done, then 303 to the file.

Whoever may read the report may follow its job and download its file (managers of the institution, its own token,
admins); any other job id is 404. Each download is audited, as every export of personal data is.
"""

from flask import Response, g, jsonify, url_for
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from academy.api.auth import INSTITUTION_TOKENS, api_allow, api_caller
from academy.api.schemas.jobs import JobSchema
from academy.api.views import BEARER, blp
from academy.core import background
from academy.core.background import DONE, KINDS, BackgroundJob, file_kind
from academy.core.job_views import file_response, status_of
from academy.core.permissions import SIGNED_IN
from academy.extensions import db
from academy.institutions import report_jobs
from academy.institutions.reporting import Period

NOT_VISIBLE = "No job with this id is visible to you."
POLL_SECONDS = "1"


def requester() -> tuple[str, int | None]:
    """Who asks, for recognising a repeated request: the person, or the institution's token."""
    if g.api_user is not None:
        return f"user:{g.api_user.id}", g.api_user.id
    return f"token:{g.api_token.id}", None


def job_json(found: BackgroundJob) -> dict:
    status = status_of(found)
    status["file_url"] = url_for("api.job_file", job_id=found.id) if status["file_url"] else None
    del status["result_url"]
    return JobSchema().dump(status)


def accepted_report_job(institution, date_from, date_to, course_ids, fmt: str) -> Response:
    """202 Accepted with the Location of the job making the file; a repeated identical request gets the same job."""
    who, user_id = requester()
    job, new = report_jobs.request_report_file(
        institution, Period(date_from, date_to), course_ids, fmt, requester=who, user_id=user_id
    )
    job_id = job.id
    db.session.commit()
    if new:
        background.start(job_id)
    found = db.session.get(BackgroundJob, job_id)
    assert found is not None  # committed just above
    response = jsonify(job_json(found))
    response.status_code = 202
    response.headers["Location"] = url_for("api.job_status", job_id=job_id)
    response.headers["Retry-After"] = POLL_SECONDS
    return response


def load_api_job(job_id: int) -> BackgroundJob:
    found = db.session.get(BackgroundJob, job_id)
    if found is None or found.kind not in KINDS or not KINDS[found.kind].can_see(api_caller(), found):
        abort(404, message=NOT_VISIBLE)
    assert found is not None  # abort raised above
    return found


@blp.route("/jobs/<int:job_id>", methods=["GET"])
@blp.response(200, JobSchema, description="Queued, running or failed: poll again after Retry-After seconds")
@blp.alt_response(303, description="Done: Location is the file")
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(404, schema=ErrorSchema, description="No such job, or not one the caller may see")
@blp.alt_response(410, schema=ErrorSchema, description="The file was deleted after REPORT_FILES_DAYS days")
@blp.doc(security=BEARER)
@api_allow(SIGNED_IN, INSTITUTION_TOKENS)
def job_status(job_id):
    """A background job (a report file being made): its progress, then a redirect to its file."""
    found = load_api_job(job_id)
    body = job_json(found)
    db.session.commit()  # the token's last use
    if body["status"] == "expired":
        abort(410, message=body["message"])
    if body["status"] == DONE and body["file_url"]:
        response = jsonify(body)
        response.status_code = 303
        response.headers["Location"] = body["file_url"]
        return response
    response = jsonify(body)
    if body["status"] in ("queued", "running"):
        response.headers["Retry-After"] = POLL_SECONDS
    return response


@blp.route("/jobs/<int:job_id>/file", methods=["GET"])
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="The file (a PDF, or an XLSX workbook)",
)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(404, schema=ErrorSchema, description="No such job, or not one the caller may see")
@blp.alt_response(409, schema=ErrorSchema, description="Not ready yet (or failed): see the job")
@blp.alt_response(410, schema=ErrorSchema, description="The file was deleted after REPORT_FILES_DAYS days")
@blp.doc(security=BEARER)
@api_allow(SIGNED_IN, INSTITUTION_TOKENS)
def job_file(job_id):
    """The file of a finished job; each download is audited."""
    found = load_api_job(job_id)
    state = found.state
    if state == "expired":
        abort(410, message=status_of(found)["message"])
    kind = file_kind(found)
    if kind is None:
        abort(409, message=f"The job is {state}: poll {url_for('api.job_status', job_id=found.id)} until it is done.")
    token = g.api_token
    return file_response(
        found,
        kind,
        g.api_user,
        via="api",
        token=token.prefix,
        token_owner="institution" if g.api_user is None else "user",
    )
