"""Who may do what with an institution."""
from academy.accounts.models import Role


def can_view_staff(user, institution) -> bool:
    """Platform admins, and managers of this very institution."""
    if not user.is_authenticated:
        return False
    return user.is_admin or (user.has_role(Role.MANAGER) and user.institution_id == institution.id)


def can_rotate_code(user, institution) -> bool:
    return can_view_staff(user, institution)


def can_edit_institution(user, institution) -> bool:
    return user.is_authenticated and user.is_admin
