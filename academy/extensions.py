"""Flask extensions, created unbound and initialised in create_app()."""

from typing import TYPE_CHECKING

import click
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


class Migrations:
    """Flask-Migrate (`flask db …`, and `upgrade()` and its kin in code), imported the first time it is used.

    Flask-Migrate imports Alembic, about 11 MiB of modules that a server answering pages never runs; every gunicorn
    worker would hold them. Until then the application holds stand-ins: the `db` command group, whose commands come
    from Flask-Migrate's when one is listed or run, and `app.extensions["migrate"]`, which becomes Flask-Migrate's own
    configuration the first time anything reads it.
    """

    def __init__(self, **options):
        self.options = options

    def init_app(self, app, db: "SQLAlchemy", directory: str) -> None:
        app.extensions["migrate"] = _PendingMigrations(app, db, directory, self.options)
        app.cli.add_command(_MigrationCommands("db", help="Perform database migrations (Flask-Migrate)."))


class _PendingMigrations:
    def __init__(self, app, db, directory, options):
        self._arguments = app, db, directory, options

    def __getattr__(self, name):
        from flask_migrate import Migrate

        app, db, directory, options = self._arguments
        Migrate(app, db, directory=directory, **options)  # puts its configuration in app.extensions["migrate"]
        return getattr(app.extensions["migrate"], name)


class _MigrationCommands(click.Group):
    @staticmethod
    def _commands() -> click.Group:
        from flask_migrate.cli import db as commands

        return commands

    def parse_args(self, ctx, args):
        commands = self._commands()
        self.params, self.callback = commands.params, commands.callback  # its options (--directory, -x) set `g`
        return super().parse_args(ctx, args)

    def list_commands(self, ctx):
        return self._commands().list_commands(ctx)

    def get_command(self, ctx, name):
        return self._commands().get_command(ctx, name)


migrate = Migrations(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
api = Api()

# Models subclass Model, which is db.Model. Flask-SQLAlchemy builds db.Model at run time, which a type checker cannot
# follow: it checks models against this stand-in, a declarative class with Flask-SQLAlchemy's model attributes.
if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FlaskModel

    class Model(_FlaskModel, Base):
        pass
else:
    Model = db.Model
