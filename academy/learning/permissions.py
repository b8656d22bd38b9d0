"""Who may do what with courses and certificates: every `can_*` of the learning pages."""


def can_download_certificate(user, certificate) -> bool:
    """The holder and platform admins may download the PDF; nobody else learns it exists."""
    return user.is_authenticated and (user.id == certificate.user_id or user.is_admin)
