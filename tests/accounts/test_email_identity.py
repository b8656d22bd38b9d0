"""One account per person: every way of writing an address leads to one stored form, and look-alikes are refused."""
import importlib.util
import logging
import unicodedata

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from academy import MIGRATIONS_DIR
from academy.accounts.emails import EmailAddressError, canonical_email, mail_address
from academy.accounts.models import Role, User, find_user_by_email
from academy.accounts.services import AccountError
from academy.extensions import db
from academy.institutions import bulk
from academy.institutions import enrolment_import as importing
from tests import factories
from tests.test_migrations import migrated_app

PASSPHRASE = "a long enough passphrase"


def fullwidth(text: str) -> str:
    """The text in the fullwidth forms an East Asian keyboard types (U+FF01 to U+FF5E)."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


# (written first, written again) -> one stored form: the five found in the issue, and more of each kind.
SAME_PERSON = [
    ("jos\u00e9@example.org", unicodedata.normalize("NFD", "jos\u00e9@example.org"), "jos\u00e9@example.org"),
    ("finance@example.org", "\ufb01nance@example.org", "finance@example.org"),
    ("admin@example.org", fullwidth("a") + "dmin@example.org", "admin@example.org"),
    ("policy@example.org", "POL\u0130CY@example.org", "policy@example.org"),
    ("Ana.Analyst@Example.org", fullwidth("ANA.analyst@Example.ORG"), "ana.analyst@example.org"),
    ("strasse@example.org", "STRA\u00dfE@example.org", "strasse@example.org"),
    ("marko@xn--e1afmkfd.com", "MARKO@ПРИМЕР.com", "marko@пример.com"),
]
# A Latin address with one letter from another alphabet, in the local part or a domain label.
LOOKALIKES = ["\u0430dmin@example.org", "adm\u0456n@example.org", "\u03bfffice@example.org",
              "admin@\u0435xample.org", "admin@example.\u043erg", "POLICY@MINISTRY.G\u041eV.RS"]
MIXED_ALPHABETS = "mixes letters of different alphabets"
IDS = ["decomposed", "ligature", "fullwidth-letter", "dotted-capital-i", "fullwidth-all", "sharp-s", "idna"]


@pytest.mark.parametrize("first, again, stored", SAME_PERSON, ids=IDS)
def test_every_spelling_of_an_address_has_one_stored_form(first, again, stored):
    assert canonical_email(first) == canonical_email(again) == stored
    assert canonical_email(stored) == stored  # stable: what is stored normalises to itself


@pytest.mark.parametrize("address", LOOKALIKES)
def test_a_lookalike_is_refused_with_a_clear_message(address):
    with pytest.raises(EmailAddressError, match=MIXED_ALPHABETS):
        canonical_email(address)


@pytest.mark.parametrize("address", ["марко@пример.срб", "ana@пример.rs", "ελενη@example.gr", "petar.3@ministry.gov.rs",
                                     "ćirić@primjer.hr"])
def test_an_address_in_one_alphabet_per_part_is_kept(address):
    assert canonical_email(address) == address


def register(client, institution, email):
    return client.post("/account/register", data={
        "invitation_code": institution.invitation_code, "name": "Ana Analyst", "email": email, "track": "cert",
        "password": PASSPHRASE, "confirm": PASSPHRASE})


def accounts() -> list[str]:
    return db.session.scalars(db.select(User.email).order_by(User.id)).all()


@pytest.mark.parametrize("first, again, stored", SAME_PERSON, ids=IDS)
@pytest.mark.parametrize("order", ["plain first", "variant first"])
def test_registering_twice_in_another_spelling_is_refused(client, auth, world, first, again, stored, order):
    first, again = (first, again) if order == "plain first" else (again, first)
    before = accounts()
    assert register(client, world.institution_a, first).status_code == 302
    auth.logout()
    response = register(client, world.institution_a, again)
    assert response.status_code == 200 and "already exists" in response.get_data(as_text=True)
    assert accounts() == before + [stored]


@pytest.mark.parametrize("address", LOOKALIKES[:2])
def test_registering_a_lookalike_is_refused(client, world, address):
    before = accounts()
    response = register(client, world.institution_a, address)
    assert response.status_code == 200 and MIXED_ALPHABETS in response.get_data(as_text=True)
    assert accounts() == before


@pytest.mark.parametrize("first, again, stored", SAME_PERSON[:4], ids=IDS[:4])
def test_creating_an_account_twice_in_another_spelling_is_refused(app, first, again, stored):
    factories.make_user(first)
    with pytest.raises(AccountError, match="already exists") as refused:
        factories.make_user(again)
    assert refused.value.field == "email" and accounts() == [stored]


@pytest.mark.parametrize("first, again, stored", SAME_PERSON[:4], ids=IDS[:4])
def test_create_admin_in_another_spelling_promotes_the_one_account(runner, first, again, stored):
    for email in (first, again):
        result = runner.invoke(args=["create-admin", "--email", email, "--name", "Root", "--password", PASSPHRASE])
        assert result.exit_code == 0, result.output
    assert accounts() == [stored] and find_user_by_email(stored).roles == {Role.ADMIN}


def test_create_admin_refuses_a_lookalike_even_of_an_older_account(runner, app):
    # Stored before look-alikes were refused: the command must not find it and make it an admin.
    db.session.add(User(email=LOOKALIKES[0], name="Old", password_hash="!", session_nonce="n"))
    db.session.commit()
    result = runner.invoke(args=["create-admin", "--email", LOOKALIKES[0], "--name", "x", "--password", PASSPHRASE])
    assert result.exit_code != 0 and MIXED_ALPHABETS in result.output
    assert not db.session.scalar(db.select(User).where(User.email == LOOKALIKES[0])).role_rows


def rows(*emails) -> list[dict]:
    return [{"email": email, "name": f"Person {n}", "track": "cert", "courses": "", "line": n + 2}
            for n, email in enumerate(emails)]


@pytest.mark.parametrize("first, again, stored", SAME_PERSON, ids=IDS)
def test_a_file_naming_one_person_twice_is_refused(app, world, first, again, stored):
    check = bulk.check_rows(world.institution_a, rows(first, again))
    assert [row.kind for row in check.rows] == [bulk.NEW, bulk.ERROR]
    assert check.rows[1].problems == ["Duplicate: the same e-mail address is already on line 2."]


@pytest.mark.parametrize("first, again, stored", SAME_PERSON[:4], ids=IDS[:4])
def test_a_file_finds_the_account_of_another_spelling(app, world, first, again, stored):
    person = factories.make_user(first, institution=world.institution_a)
    db.session.commit()
    [row] = bulk.check_rows(world.institution_a, rows(again)).rows
    assert (row.kind, row.user_id) == (bulk.UNCHANGED, person.id)


def test_an_import_stores_the_normalised_address_and_refuses_lookalikes(app, world):
    check = bulk.check_rows(world.institution_a, rows("POL\u0130CY@Example.ORG", LOOKALIKES[0]))
    assert check.rows[1].problems and MIXED_ALPHABETS in check.rows[1].problems[0]
    good = rows("POL\u0130CY@Example.ORG")
    upload = bulk.store_upload(world.institution_a, world.manager_a, "staff.csv", good)
    assert importing.claim(upload)
    [invitation] = importing.run_import(upload, world.institution_a, world.manager_a,
                                   bulk.check_rows(world.institution_a, good).fingerprint)
    assert invitation.email == "policy@example.org" and find_user_by_email("policy@example.org")


@pytest.mark.parametrize("typed", ["LEARNER@A.ORG", fullwidth("learner") + "@a.org", " learner@a.org ",
                                   fullwidth("LEARNER@A.ORG")])
def test_sign_in_works_with_any_case_or_width(auth, world, typed):
    assert auth.login(typed).status_code == 302


def test_an_api_token_is_issued_for_any_case_or_width(client, world):
    response = client.post("/api/v1/auth/token", json={"email": fullwidth("LEARNER") + "@A.ORG",
                                                       "password": factories.PASSWORD})
    assert response.status_code == 201, response.get_json()


def test_sign_in_works_with_either_unicode_composition(client, auth, app):
    factories.make_user(SAME_PERSON[0][0])
    db.session.commit()
    assert auth.login(SAME_PERSON[0][1]).status_code == 302


def test_a_reset_asked_in_another_spelling_reaches_the_account(client, world, caplog):
    caplog.set_level(logging.WARNING)
    client.post("/account/reset", data={"email": fullwidth("LEARNER") + "@a.org"})
    mails = [r.getMessage() for r in caplog.records if "Mail to" in r.getMessage()]
    assert len(mails) == 1 and mails[0].startswith("Mail to learner@a.org ")


@pytest.mark.parametrize("stored, sent", [("marko@пример.com", "marko@xn--e1afmkfd.com"),
                                          ("ćirić@primjer.hr", "ćirić@primjer.hr"), ("ana@a.org", "ana@a.org")])
def test_mail_goes_to_the_ascii_form_of_a_stored_unicode_domain(stored, sent):
    assert mail_address(stored) == sent


def test_the_admin_finds_an_account_by_any_spelling(client, auth, world):
    auth.as_user(world.admin)
    page = client.get("/admin/users", query_string={"q": fullwidth("LEARNER@A")}).get_data(as_text=True)
    assert "learner@a.org" in page and "manager@a.org" not in page


# --- The migration that normalises the stored addresses -----------------------------------------

MIGRATION = next((MIGRATIONS_DIR / "versions").glob("5b9638873440_*.py"))


@pytest.fixture(scope="module")
def migration():
    spec = importlib.util.spec_from_file_location("normalise_emails_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_normalises_what_it_can_and_reports_each_collision(migration, caplog):
    nfd = unicodedata.normalize("NFD", "jos\u00e9@example.org")
    stored = [(1, "jos\u00e9@example.org"), (2, nfd), (3, "\ufb01nance@example.org"), (4, "pol\u0130cy@example.org"),
              (5, "policy@example.org"), (6, fullwidth("a") + "dmin@example.org"), (7, "\u0430dmin@example.org"),
              (8, "ana@example.org"), (9, "not an address")]
    plan = migration.plan(stored)
    assert plan.renames == {3: "finance@example.org", 6: "admin@example.org"}
    assert plan.collisions == [[(1, "jos\u00e9@example.org"), (2, nfd)],
                               [(4, "pol\u0130cy@example.org"), (5, "policy@example.org")]]
    assert plan.unusable == [(7, "\u0430dmin@example.org"), (9, "not an address")]
    caplog.set_level(logging.INFO)
    migration.report(plan)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4 and "#4 'pol\u0130cy@example.org', #5 'policy@example.org'" in warnings[1]
    assert all("left unchanged" in warning for warning in warnings)


def test_the_migration_never_renames_onto_an_address_in_use(migration):
    plan = migration.plan([(1, "ADMIN@example.org"), (2, fullwidth("admin@example.org")), (3, "admin@example.org")])
    assert plan.renames == {} and [[row[0] for row in group] for group in plan.collisions] == [[1, 2, 3]]


def test_the_migration_on_a_database(tmp_path, capsys):
    app = migrated_app(tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(revision="a6ace088f436")
        with db.engine.begin() as connection:
            for user_id, email in [(1, "POL\u0130CY@example.org"), (2, "policy@example.org"),
                                   (3, fullwidth("a") + "dmin@example.org"), (4, "\u0430dmin@example.org")]:
                connection.execute(text(
                    'INSERT INTO "user" (id, email, name, password_hash, active, session_nonce, failed_logins, '
                    "created_at) VALUES (:id, :email, 'x', '!', true, 'n', 0, CURRENT_TIMESTAMP)"),
                    {"id": user_id, "email": email})
        upgrade(revision="5b9638873440")
        with db.engine.connect() as connection:
            stored = dict(connection.execute(text('SELECT id, email FROM "user" ORDER BY id')).all())
        assert stored == {1: "POL\u0130CY@example.org", 2: "policy@example.org", 3: "admin@example.org",
                          4: "\u0430dmin@example.org"}
        # Alembic's logging configuration writes the report to the console of whoever runs the upgrade.
        assert "#1 'POL\u0130CY@example.org', #2 'policy@example.org'" in capsys.readouterr().err
        downgrade(revision="a6ace088f436")
        downgrade(revision="base")
        db.session.remove()
        db.engine.dispose()
