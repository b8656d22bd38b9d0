"""Who may do what with an institution: every `can_*` of the institution pages and their API."""

from academy.accounts.models import Role


def can_view_staff(user, institution) -> bool:
    """Platform admins, and managers of this very institution."""
    if not user.is_authenticated:
        return False
    return user.is_admin or (user.has_role(Role.MANAGER) and user.institution_id == institution.id)


def can_rotate_code(user, institution) -> bool:
    """Whoever sees the staff may issue a new invitation code."""
    return can_view_staff(user, institution)


def can_manage_tokens(user, institution) -> bool:
    """The institution's API tokens: its managers and platform admins, as for its staff."""
    return can_view_staff(user, institution)
