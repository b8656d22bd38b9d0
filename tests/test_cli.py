from academy.accounts.models import Role, User, find_user_by_email
from academy.extensions import db
from academy.organisations.models import Institution
from academy.organisations.services import COUNTRIES


def test_create_admin(runner):
    result = runner.invoke(args=["create-admin", "--email", "Root@Academy.org", "--name", "Root",
                                 "--password", "a secure admin phrase"])
    assert result.exit_code == 0, result.output
    user = find_user_by_email("root@academy.org")
    assert user.roles == {Role.ADMIN}


def test_create_admin_refuses_weak_password(runner):
    result = runner.invoke(args=["create-admin", "--email", "root@academy.org", "--name", "Root",
                                 "--password", "short"])
    assert result.exit_code != 0
    assert "Use at least 10 characters." in result.output
    assert find_user_by_email("root@academy.org") is None


def test_create_admin_promotes_existing_account(runner, world):
    result = runner.invoke(args=["create-admin", "--email", "learner@a.org", "--name", "x", "--password", "irrelevant!!"])
    assert result.exit_code == 0
    assert find_user_by_email("learner@a.org").roles == {Role.LEARNER, Role.ADMIN}


def test_demo_is_idempotent_and_prints_accounts(runner):
    first = runner.invoke(args=["demo", "--password", "demo passphrase 1"])
    assert first.exit_code == 0, first.output
    counts = (db.session.scalar(db.select(db.func.count(User.id))),
              db.session.scalar(db.select(db.func.count(Institution.id))))
    second = runner.invoke(args=["demo", "--password", "demo passphrase 2"])
    assert second.exit_code == 0, second.output
    assert counts == (db.session.scalar(db.select(db.func.count(User.id))),
                      db.session.scalar(db.select(db.func.count(Institution.id))))
    for email in ("admin@demo.academy", "trainer@demo.academy", "manager@demo.academy", "diplomat@demo.academy"):
        assert email in second.output
    assert "demo passphrase 2" in second.output
    countries = {i.country.code for i in db.session.scalars(db.select(Institution))}
    assert len(countries) >= 5
    sectors = {i.sector for i in db.session.scalars(db.select(Institution))}
    assert len(sectors) >= 4
    admin = find_user_by_email("admin@demo.academy")
    assert admin.is_admin


def test_demo_generates_a_password_when_none_given(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0
    assert "password for all: " in result.output


def test_countries_are_the_report_participants_plus_other():
    codes = [code for code, *_ in COUNTRIES]
    assert codes == ["AL", "BA", "HR", "XK", "ME", "MK", "RS", "OTHER"]
    kosovo = next(row for row in COUNTRIES if row[0] == "XK")
    assert kosovo[1] == "Kosovo*"
    assert "UNSC 1244" in kosovo[3] and "ICJ Opinion" in kosovo[3]
