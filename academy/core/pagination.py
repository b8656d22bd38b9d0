"""Numbers from the query string (page numbers, ids), bounded: never a 500."""

from flask import abort, current_app, request
from flask_sqlalchemy.pagination import Pagination

from academy.extensions import db

# No list has this many pages; the API refuses a larger ?page= (422), the pages answer 404.
MAX_PAGE = 100_000
# One more than the largest id a URL may carry (BoundedIntConverter): a larger number is no id either.
TOO_LARGE = 2**31


def query_number(name: str) -> int | None:
    """?name= as a whole number up to TOO_LARGE (anything larger is TOO_LARGE), None if it is no plain number.

    Only ASCII digits count ("²" and "٣" are digits to str.isdigit and int()), and a long number is never converted:
    25 digits overflowed the database's integers, 5,000 Python's int()."""
    raw = request.args.get(name, "")
    if not (raw.isascii() and raw.isdigit()):
        return None
    digits = raw.lstrip("0") or "0"
    return TOO_LARGE if len(digits) > len(str(TOO_LARGE)) else min(int(digits), TOO_LARGE)


def query_id(name: str) -> int | None:
    """?name= as the id of a row, or None."""
    number = query_number(name)
    return number if number is not None and number < TOO_LARGE else None


def page_number() -> int:
    """?page= from 1 to MAX_PAGE: no plain number is page 1; past a real list's end the list shows its last page;
    past MAX_PAGE, which no list reaches, the page is not found (404)."""
    number = query_number("page")
    if number is not None and number > MAX_PAGE:
        abort(404)
    return 1 if number is None else max(1, number)


def paginate(query, per_page: int | None = None):
    """Paginate a select() by ?page=; a nonsense page number falls back to the nearest real page."""
    page = page_number()
    per_page = per_page or current_app.config["PAGE_SIZE"]
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    if page > 1 and not pagination.items and pagination.pages:
        pagination = db.paginate(query, page=pagination.pages, per_page=per_page, error_out=False)
    return pagination


class ListPagination(Pagination):
    """Pages over rows already in memory (a report computed whole, a parsed upload), for the pagination macro."""

    def _query_items(self) -> list:
        start = (self.page - 1) * self.per_page
        return self._query_args["items"][start : start + self.per_page]

    def _query_count(self) -> int:
        return len(self._query_args["items"])


def paginate_list(items: list, per_page: int | None = None, page: int | None = None) -> ListPagination:
    """A page of the list, by ?page= unless given; past the end, the last page."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    last = max(1, -(-len(items) // per_page))
    page = min(page_number() if page is None else page, last)
    return ListPagination(page=page, per_page=per_page, max_per_page=None, error_out=False, items=items)


def page_fields(pagination: Pagination) -> dict:
    """Where a page sits, as the API's list answers carry it (api/schemas/common.py PageSchema)."""
    return {
        "page": pagination.page,
        "per_page": pagination.per_page,
        "pages": pagination.pages,
        "total": pagination.total,
    }
