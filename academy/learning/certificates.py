"""Certificates: issued once per completed course, verifiable by code, revocable by admins."""

import re
from typing import cast

import segno
from babel.dates import format_date
from flask import render_template
from flask_babel import force_locale
from markupsafe import Markup
from sqlalchemy import CursorResult

from academy.accounts.languages import current_tag
from academy.accounts.models import User
from academy.core import audit, locales
from academy.core.codes import unused_code
from academy.core.models import utcnow
from academy.core.pdf import html_to_pdf
from academy.core.urls import absolute_url
from academy.extensions import db
from academy.learning import translations
from academy.learning.models import Certificate, Course

CODE_EXAMPLE = "ABCD-EFGH-JKLM"
_BARE_CODE = re.compile(r"[A-Z0-9]{12}")


def new_code() -> str:
    """A code such as 7KQ2-MX9D-PT4W: 60 bits of randomness, no look-alike characters."""
    return unused_code(Certificate.code, 12, shape=lambda raw: "-".join(raw[i : i + 4] for i in range(0, 12, 4)))


def issue_certificate(user, course: Course) -> Certificate:
    """The user's certificate for the course, created on first completion (never twice)."""
    existing = db.session.scalar(
        db.select(Certificate).where(Certificate.user_id == user.id, Certificate.course_id == course.id)
    )
    if existing:
        return existing
    certificate = Certificate(
        code=new_code(), user_id=user.id, course_id=course.id, holder_name=user.name, course_title=course.title
    )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def normalise_code(code: str | None) -> str:
    """A code as typed (any case, spaces around, dashes forgotten) in its stored form."""
    code = (code or "").strip().upper()[:40]
    return "-".join(code[i : i + 4] for i in range(0, 12, 4)) if _BARE_CODE.fullmatch(code) else code


def find_certificate(code: str | None) -> Certificate | None:
    code = normalise_code(code)
    return db.session.scalar(db.select(Certificate).where(Certificate.code == code)) if code else None


def certificate_query(search: str = "", status: str = ""):
    """Certificates for the admin list, newest first: search by code, holder name or e-mail."""
    query = (
        db.select(Certificate)
        .join(User, User.id == Certificate.user_id)
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    )
    if search:
        needle = search.lower()
        query = query.where(
            db.or_(
                db.func.lower(Certificate.code).contains(needle, autoescape=True),
                db.func.lower(Certificate.holder_name).contains(needle, autoescape=True),
                db.func.lower(User.name).contains(needle, autoescape=True),
                User.email.contains(needle, autoescape=True),
            )
        )
    if status == "valid":
        query = query.where(Certificate.revoked_at.is_(None))
    elif status == "revoked":
        query = query.where(Certificate.revoked_at.is_not(None))
    return query


def holder_emails(certificates: list[Certificate]) -> dict[int, str]:
    """Holders' current e-mail addresses by user id, in one query."""
    ids = {c.user_id for c in certificates}
    return dict(db.session.execute(db.select(User.id, User.email).where(User.id.in_(ids))).all()) if ids else {}


def revoke(certificate: Certificate, reason: str, by) -> bool:
    """Revoke once: a repeated or concurrent revocation leaves the first one standing (False)."""
    # An UPDATE without RETURNING gives a CursorResult (with its rowcount), which Session.execute's annotations do
    # not tell.
    result = cast(
        CursorResult,
        db.session.execute(
            db.update(Certificate)
            .where(Certificate.id == certificate.id, Certificate.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason, revoked_by_id=by.id)
            .execution_options(synchronize_session=False)
        ),
    )
    db.session.refresh(certificate)
    if result.rowcount != 1:
        return False
    holder = db.session.get(User, certificate.user_id)
    audit.record(
        "certificate.revoke",
        actor=by,
        target=certificate.code,
        institution_id=holder.institution_id if holder else None,
        holder=certificate.holder_name,
        course=certificate.course_title,
        reason=reason,
    )
    return True


def verification_url(certificate: Certificate) -> str:
    """The public page that confirms the certificate, on PUBLIC_URL: printed and QR-coded in the PDF."""
    return absolute_url("learning.verify", code=certificate.code)


def qr_svg(url: str) -> Markup:
    """The URL as an inline SVG QR code, sized by the stylesheet."""
    return Markup(segno.make(url, error="m").svg_inline(omitsize=True, border=0, dark="#0b2545"))


def certificate_pdf(certificate: Certificate, verify_url: str | None = None, tag: str | None = None) -> bytes:
    """The certificate as a one-page A4 landscape PDF, built without any network access: in the holder's language
    (`tag`; else the one the holder chose, else the request's) with the English beneath each line, or in English
    alone."""
    verify_url = verify_url or verification_url(certificate)
    holder = db.session.get(User, certificate.user_id)
    tag = tag or (holder.locale if holder is not None and locales.get(holder.locale) else None) or current_tag()
    translated = translations.one("course", certificate.course.slug, tag) if certificate.course else None
    with force_locale(locales.LOCALES[tag].babel):
        html = render_template(
            "learning/certificate_pdf.html",
            certificate=certificate,
            verify_url=verify_url,
            qr=qr_svg(verify_url),
            bilingual=tag != locales.DEFAULT,
            english=lambda text, **values: text % values if values else text,
            english_date=format_date(certificate.issued_at, "long", locale="en"),
            course_title=translated.fields["title"] if translated else certificate.course_title,
        )
    return html_to_pdf(html)
