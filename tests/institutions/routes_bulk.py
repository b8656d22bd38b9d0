"""Route-matrix rows of the bulk enrolment (academy/institutions/bulk_views.py)."""
from academy.extensions import db
from tests.route_rows import row

# Managers of the institution and admins; another institution's manager meets 404; other roles 403.
MANAGERS_OF_A = row(302, 403, 403, 200, 404, 200)


def upload_url(w) -> str:
    return f"/institutions/{w.institution_a.id}/enrolments/upload"


def import_url(w) -> str:
    """An upload of institution A waiting in preview: the URL every persona then tries."""
    from academy.institutions import bulk

    rows = [{"line": 2, "email": "new.person@a.org", "name": "New Person", "track": "cert",
             "courses": w.course.slug, "extra": False}]
    bulk_import = bulk.store_upload(w.institution_a, w.manager_a, "staff.csv", rows)
    db.session.commit()
    return f"/institutions/{w.institution_a.id}/enrolments/imports/{bulk_import.id}"


ROUTES = {
    ("institutions.bulk_upload", "GET"): (upload_url, MANAGERS_OF_A),
    # An empty form: the page again with "Choose a CSV file to upload.", nothing stored.
    ("institutions.bulk_upload", "POST"): (upload_url, MANAGERS_OF_A),
    ("institutions.bulk_preview", "GET"): (import_url, MANAGERS_OF_A),
    # No confirmation fingerprint: back to the preview with a message, nothing imported.
    ("institutions.bulk_confirm", "POST"): (lambda w: import_url(w) + "/confirm", row(302, 403, 403, 302, 404, 302)),
}
