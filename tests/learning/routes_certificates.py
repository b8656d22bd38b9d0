from academy.extensions import db
from academy.learning.certificates import issue_certificate
from tests.route_rows import ADMIN_200, EVERYONE_200, row


def _code(w):
    """The learner's certificate for the fixture course, issued (once) for the matrix."""
    certificate = issue_certificate(w.learner, w.course)
    db.session.commit()
    return certificate.code


ROUTES = {
    # Only the holder and platform admins get the PDF; for anyone else it does not exist.
    ("learning.certificate_pdf", "GET"): (lambda w: f"/certificates/{_code(w)}.pdf", row(302, 200, 404, 404, 404, 200)),
    ("learning.verify", "GET"): (lambda w: f"/verify/{_code(w)}", EVERYONE_200),
    ("learning.certificate_list", "GET"): (lambda w: f"/admin/certificates?q={_code(w)}", ADMIN_200),
    # An empty form: the admin is sent back to the list with a message, nothing is revoked.
    ("learning.revoke_certificate", "POST"): (lambda w: f"/admin/certificates/{_code(w)}/revoke",
                                             row(302, 403, 403, 403, 403, 302)),
    ("api.get_certificate", "GET"): (lambda w: f"/api/v1/certificates/{_code(w)}", EVERYONE_200),
}
