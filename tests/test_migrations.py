"""The migrations build exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from academy import create_app
from academy.extensions import db
from tests.conftest import build_settings


def migrated_app(tmp_path):
    import os

    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/migrated.db"
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=url))
    return app


def test_models_and_migrations_agree(tmp_path):
    app = migrated_app(tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.connect() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            connection.commit()
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.session.remove()
        db.engine.dispose()
