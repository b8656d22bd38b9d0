"""Page numbers from the query string, bounded and never an error."""
from flask import current_app, request

from academy.extensions import db


def paginate(query, per_page: int | None = None):
    """Paginate a select() by ?page=; a nonsense page number falls back to the nearest real page."""
    try:
        page = max(1, int(request.args.get("page", 1)))
    except (TypeError, ValueError):
        page = 1
    per_page = per_page or current_app.config["PAGE_SIZE"]
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    if page > 1 and not pagination.items and pagination.pages:
        pagination = db.paginate(query, page=pagination.pages, per_page=per_page, error_out=False)
    return pagination
