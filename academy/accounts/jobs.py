"""Account e-mail, sent by the job worker: a request that asks for it answers without waiting for the mail server."""

from flask_babel import force_locale
from flask_babel import gettext as _

from academy.accounts import services
from academy.accounts.models import find_user_by_email
from academy.core import audit, locales
from academy.core.jobs import job
from academy.core.urls import absolute_url
from academy.extensions import db

# A mail server that is down for a while loses nothing: each message is tried again a minute apart.
MAIL_RETRIES = {"retries": 3, "retry_delay": 60}


@job(**MAIL_RETRIES)
def deliver_mail(to: str, subject: str, body: str) -> None:
    """Send one message composed in the request."""
    services.send_mail(to, subject, body)


@job(**MAIL_RETRIES)
def send_password_reset(email: str, requested_from: str | None) -> None:
    """Mail a reset link if an active account has this address; for any other address, do nothing."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    link = absolute_url("accounts.reset_password", token=services.make_reset_token(user))
    language = locales.get(user.locale) or locales.LOCALES[locales.DEFAULT]  # the language the person chose
    with force_locale(language.babel):
        subject = _("Reset your academy password")
        body = _(
            "Open this link within an hour to choose a new password:\n\n%(link)s\n\n"
            "If you did not ask for this, ignore this message.",
            link=link,
        )
    services.send_mail(user.email, subject, body)
    audit.record(
        "password.reset_request", actor=user, target=user.email, institution_id=user.institution_id, ip=requested_from
    )
    db.session.commit()
