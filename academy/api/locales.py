"""GET /api/v1/locales: the languages of the academy and how much of it each one has."""

from academy.api.auth import api_allow
from academy.api.schemas.locales import LocaleSchema
from academy.api.views import blp
from academy.core import locales
from academy.core.content.coverage import content_coverage, ui_share
from academy.core.permissions import PUBLIC


@blp.route("/locales", methods=["GET"])
@blp.response(200, LocaleSchema(many=True))
@api_allow(PUBLIC)
def list_locales():
    """Each locale: its BCP 47 tag, its name in itself, and the share of the interface's messages, and of each
    course's and scenario's segments (a course's: its lessons' and questions'), with a current translation."""
    shares, _titles = content_coverage()
    found = []
    for tag, locale in locales.LOCALES.items():
        content = shares.get(tag, {"courses": {}, "scenarios": {}})
        found.append(
            {
                "tag": tag,
                "name": locale.name,
                "ui": ui_share(tag),
                "courses": content["courses"] if tag != locales.DEFAULT else {},
                "scenarios": content["scenarios"] if tag != locales.DEFAULT else {},
            }
        )
    return found
