"""Small builders for test data; they flush, the caller's test commits or not."""
import itertools
from types import SimpleNamespace

from academy.accounts.models import Role, Track
from academy.accounts.services import create_user, issue_token  # noqa: F401 (re-exported for tests)
from academy.extensions import db
from academy.organisations.models import Country, Sector
from academy.organisations.services import create_institution

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def make_institution(name=None, country="AL", sector=Sector.MINISTRY):
    country_row = db.session.scalar(db.select(Country).where(Country.code == country))
    return create_institution(name=name or f"Institution {next(_counter)}", country=country_row, sector=sector)


def make_user(email=None, *, roles=(Role.LEARNER,), institution=None, track=Track.DIPLOMAT,
              name=None, password=PASSWORD):
    n = next(_counter)
    return create_user(email=email or f"user{n}@example.org", name=name or f"User {n}", password=password,
                       institution=institution, track=track, roles=roles)


def make_token(user, name="test"):
    return issue_token(user, name)[1]


def make_world():
    a = make_institution("Ministry A", "AL")
    b = make_institution("CERT B", "RS", Sector.CERT)
    world = SimpleNamespace(
        institution_a=a, institution_b=b,
        learner=make_user("learner@a.org", institution=a),
        trainer=make_user("trainer@a.org", roles=(Role.TRAINER, Role.LEARNER), institution=a),
        manager_a=make_user("manager@a.org", roles=(Role.MANAGER,), institution=a),
        manager_b=make_user("manager@b.org", roles=(Role.MANAGER,), institution=b, track=Track.CERT),
        admin=make_user("admin@academy.org", roles=(Role.ADMIN,), institution=None, track=None),
    )
    db.session.commit()
    return world
