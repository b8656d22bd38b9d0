"""The Western Balkans Cybersecurity Academy."""
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, request
from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from sqlalchemy import event
from sqlalchemy.orm import joinedload
from werkzeug.routing import IntegerConverter

from academy.config import INSTANCE_DIR, Config
from academy.core.text import TextConverter, TextRequest
from academy import extensions
from academy.extensions import babel, csrf, db, limiter, login_manager, migrate

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class BoundedIntConverter(IntegerConverter):
    """Ids in URLs fit a database integer; anything larger is simply not found (404)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config=None) -> Flask:
    """Build the application; `config` (a mapping or a class) overrides the environment."""
    app = Flask(__name__)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.config.from_mapping(Config.from_environ())
    if config is not None:
        overrides = config if isinstance(config, Mapping) else {k: getattr(config, k) for k in dir(config) if k.isupper()}
        app.config.from_mapping(overrides)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith(f"sqlite:///{INSTANCE_DIR}"):
        INSTANCE_DIR.mkdir(exist_ok=True)
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX"]
        # The proxy passes the visitor's Host on (README): an X-Forwarded-Host, which a visitor may have sent
        # through a proxy that does not overwrite it, is never believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)
    app.url_map.converters["int"] = BoundedIntConverter
    # Control characters: never in a path segment (404), cleaned out of the query string (academy/core/text.py).
    app.url_map.converters["default"] = app.url_map.converters["string"] = TextConverter
    app.request_class = TextRequest
    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_template_helpers(app)
    from academy.core import errors, security
    from academy.core.permissions import check_views_declare_access

    security.init_app(app)  # CSP, frame, referrer, nosniff, permissions and (in production) HSTS headers
    errors.init_app(app)  # after the API, whose own handlers it replaces
    check_views_declare_access(app)
    return app


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets readers (live streams, reports) and one writer work at once; writers wait instead of failing.
    # synchronous=NORMAL: in WAL mode a commit no longer waits for the disk with the write lock held (the log is
    # synced at checkpoints). A crash of the application loses nothing; a power cut may undo the last commits but
    # leaves the database consistent (sqlite.org/pragma.html#pragma_synchronous).
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _select_locale():
    from flask import current_app, has_request_context

    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "en"


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    from academy.accounts.models import User

    @login_manager.user_loader
    def load_user(user_id: str):
        raw_id, _, nonce = user_id.partition(":")
        if not raw_id.isdigit():
            return None
        # Every page asks for the user's roles (navigation, access checks): load them in the same query.
        user = db.session.get(User, int(raw_id), options=[joinedload(User.role_rows)])
        if user is None or not user.active or user.session_nonce != nonce:
            return None
        return user

    from academy.core import jobs

    jobs.init_app(app)  # the queue of work done outside the request: Redis, a SQLite file, or inline in tests
    extensions.api.init_app(app)
    extensions.api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    from academy.tabletop import broker

    broker.init_app(app)  # live-session events reach the other processes through Redis or PostgreSQL (LIVE_RELAY)


def _register_blueprints(app: Flask) -> None:
    from academy.accounts.views import bp as accounts_bp
    from academy.admin.views import bp as admin_bp
    from academy.api.views import blp as api_blp
    from academy.core.views import bp as core_bp
    from academy.institutions.views import bp as institutions_bp
    from academy.learning.views import bp as learning_bp
    import academy.learning.quiz_views  # noqa: F401  (routes on the learning blueprint)
    import academy.learning.certificate_views  # noqa: F401  (routes on the learning blueprint)
    import academy.institutions.dashboard_views  # noqa: F401  (routes on the institutions blueprint)
    import academy.institutions.bulk_views  # noqa: F401  (bulk enrolment, on the institutions blueprint)
    import academy.institutions.regional_views  # noqa: F401  (the admins' regional view, /admin/regional)
    import academy.institutions.token_views  # noqa: F401  (routes on the institutions blueprint)
    from academy.tabletop.views import bp as tabletop_bp
    # Modules that add routes to the tabletop blueprint (one line each):
    import academy.tabletop.participant_views  # noqa: F401
    import academy.tabletop.stream  # noqa: F401
    import academy.tabletop.report_views  # noqa: F401
    import academy.tabletop.console_views  # noqa: F401

    for blueprint in (core_bp, accounts_bp, institutions_bp, admin_bp, learning_bp, tabletop_bp):
        app.register_blueprint(blueprint)
    import academy.api.learning  # noqa: F401  (resources on the API blueprint)
    import academy.api.certificates  # noqa: F401  (resources on the API blueprint)
    import academy.api.institutions  # noqa: F401  (resources on the API blueprint)
    import academy.api.tabletop  # noqa: F401  (resources on the API blueprint)

    csrf.exempt(api_blp)
    extensions.api.register_blueprint(api_blp)


def _register_cli(app: Flask) -> None:
    from academy.accounts.cli import create_admin
    from academy.institutions.cli import demo
    from academy.core import backup
    from academy.content_cli import content  # imports the learning and tabletop models (create_all, migrations)

    app.cli.add_command(create_admin)
    app.cli.add_command(demo)
    app.cli.add_command(content)
    backup.init_app(app)  # flask backup FILE / flask restore FILE


def _register_template_helpers(app: Flask) -> None:
    from academy.accounts.models import Role
    from academy.core.urls import absolute_url
    from academy.institutions import permissions as institution_permissions

    app.jinja_env.globals.update(
        Role=Role,
        absolute_url=absolute_url,
        can_view_staff=institution_permissions.can_view_staff,
        can_rotate_code=institution_permissions.can_rotate_code,
    )
    _install_page_translations(app)


def _install_page_translations(app: Flask) -> None:
    """Templates translate through the page's translations, looked up once per page: Flask-Babel's own template
    functions look them up again for every string, a tenth of the time of a lesson page."""
    app.context_processor(lambda: {"_page_translations": get_translations()})

    def of(context):
        # Macros imported without context have no page translations of their own: they look them up.
        translations = context.get("_page_translations")
        return get_translations() if translations is None else translations

    app.jinja_env.install_gettext_callables(
        gettext=pass_context(lambda context, string: of(context).ugettext(string)),
        ngettext=pass_context(lambda context, singular, plural, n: of(context).ungettext(singular, plural, n)),
        pgettext=pass_context(lambda context, kind, string: of(context).upgettext(kind, string)),
        npgettext=pass_context(lambda context, kind, singular, plural, n:
                               of(context).unpgettext(kind, singular, plural, n)),
        newstyle=True,
    )
