"""A background job as the API shows it: a report file being made, then ready (or failed)."""

from marshmallow import Schema, fields, validate

from academy.api.schemas.common import UtcDateTime


class JobSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "completion_report (more kinds may come)"})
    title = fields.String(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["queued", "running", "done", "failed", "expired"]),
        metadata={"description": "Poll while queued or running; done gives 303 to the file"},
    )
    progress = fields.Integer(required=True, metadata={"description": "0 to 100"})
    message = fields.String(required=True, metadata={"description": "Where the job stands, or why it failed"})
    created_at = UtcDateTime(required=True)
    finished_at = UtcDateTime(allow_none=True, required=True)
    expires_at = UtcDateTime(required=True, metadata={"description": "When the file is deleted"})
    filename = fields.String(allow_none=True, required=True)
    size = fields.Integer(allow_none=True, required=True, metadata={"description": "Bytes, once done"})
    file_url = fields.String(allow_none=True, required=True, metadata={"description": "The file, once done"})
