"""The admins' regional view: training and exercise figures per country and sector beside the report's Table 1.

The page lives under /admin with the other admin pages but belongs to the institutions feature, so it is added to
the application directly when the institutions blueprint is registered (a blueprint's rules take its prefix).
"""

from flask import render_template

from academy.accounts.models import Role
from academy.core.permissions import allow
from academy.institutions import baseline
from academy.institutions.regional import FIGURES, regional_picture
from academy.institutions.views import bp


@allow(Role.ADMIN)
def regional():
    """Per country and per sector: institutions, learners, enrolments, completions, certificates, exercises."""
    picture = regional_picture()
    return render_template(
        "institutions/regional.html",
        picture=picture,
        figures=FIGURES,
        baseline=baseline,
        footnotes=[row.country for row in picture.countries if row.country.footnote],
    )


bp.record_once(
    lambda state: state.app.add_url_rule("/admin/regional", "institutions.regional", regional, methods=["GET"])
)
