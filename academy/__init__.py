"""The Western Balkans Cybersecurity Academy."""

from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from flask_babel import format_date, format_decimal, get_translations
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from markupsafe import Markup
from sqlalchemy import bindparam, event
from sqlalchemy.orm import joinedload, lazyload
from werkzeug.routing import IntegerConverter

from academy import extensions
from academy.config import Config, check_extras
from academy.core.sessions import SessionInterface
from academy.core.text import TextConverter, TextRequest
from academy.extensions import babel, csrf, db, limiter, login_manager, migrate

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"  # inside the package: found by any install


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
        overrides = (
            config if isinstance(config, Mapping) else {k: getattr(config, k) for k in dir(config) if k.isupper()}
        )
        app.config.from_mapping(overrides)
    instance = Path(app.config["INSTANCE_DIR"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith(f"sqlite:///{instance}"):
        instance.mkdir(parents=True, exist_ok=True)
    check_extras(app.config)
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX"]
        # The proxy passes the visitor's Host on (README): an X-Forwarded-Host, which a visitor may have sent
        # through a proxy that does not overwrite it, is never believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)  # type: ignore[method-assign]  # Flask documents this wrapping
    app.url_map.converters["int"] = BoundedIntConverter
    # Control characters: never in a path segment (404), cleaned out of the query string (academy/core/text.py).
    app.url_map.converters["default"] = app.url_map.converters["string"] = TextConverter
    app.request_class = TextRequest
    app.session_interface = SessionInterface()  # the same signed cookie, not signed again on every request
    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_template_helpers(app)
    from academy.core import errors, security
    from academy.core.permissions import check_views_declare_access

    security.init_app(app)  # CSP, frame, referrer, nosniff, permissions and (in production) HSTS headers
    errors.init_app(app)  # after the API, whose own handlers it replaces
    check_views_declare_access(app)
    _limit_in_views_only(app)
    return app


def _limit_in_views_only(app: Flask) -> None:
    """Drop Flask-Limiter's check before every request while no limit needs it.

    That check applies application-wide, default and blueprint limits; the academy's limits are each on a view, and
    the view's decorator checks them. Declaring a limit of the other kinds brings the check back.
    """
    manager, hooks = limiter.limit_manager, app.before_request_funcs[None]
    if limiter._check_request_limit in hooks and not (
        manager.application_limits or manager.default_limits or manager._blueprint_limits
    ):
        hooks.remove(limiter._check_request_limit)


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
    """The Babel locale of the request's language (academy/accounts/languages.py chooses it)."""
    from academy.accounts.languages import current_tag
    from academy.core import locales

    return locales.LOCALES[current_tag()].babel_locale


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

    # Every page asks for the user's roles (navigation, access checks): they come in the same query. Few pages show
    # the user's institution (loaded when asked for). One statement, built once: SQLAlchemy finds its compiled SQL
    # without building and hashing a new statement on every request.
    signed_in_user = (
        db.select(User)
        .where(User.id == bindparam("user_id"))
        .options(joinedload(User.role_rows), lazyload(User.institution))
    )

    @login_manager.user_loader
    def load_user(user_id: str):
        raw_id, _, nonce = user_id.partition(":")
        if not raw_id.isdigit():
            return None
        user = db.session.scalars(signed_in_user, {"user_id": int(raw_id)}).unique().one_or_none()
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
    """Each feature's views module builds its blueprint with all its routes; the factory registers them."""
    from academy.accounts.views import bp as accounts_bp
    from academy.admin.views import bp as admin_bp
    from academy.api.views import blp as api_blp
    from academy.core.views import bp as core_bp
    from academy.institutions.views import bp as institutions_bp
    from academy.learning.views import bp as learning_bp
    from academy.tabletop.views import bp as tabletop_bp

    for blueprint in (core_bp, accounts_bp, institutions_bp, admin_bp, learning_bp, tabletop_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_blp)
    extensions.api.register_blueprint(api_blp)


def _register_cli(app: Flask) -> None:
    from academy.accounts.cli import create_admin
    from academy.content_cli import content  # imports the learning and tabletop models (create_all, migrations)
    from academy.core import backup
    from academy.institutions.cli import demo
    from academy.translation_cli import translations

    app.cli.add_command(create_admin)
    app.cli.add_command(demo)
    content.add_command(translations)  # flask content translations …
    app.cli.add_command(content)
    backup.init_app(app)  # flask backup FILE / flask restore FILE


def _register_template_helpers(app: Flask) -> None:
    from academy.accounts.languages import html_lang, language_switcher, say_the_language
    from academy.accounts.models import Role
    from academy.accounts.navigation import navigation
    from academy.core import locales
    from academy.core.forms import csrf_token
    from academy.core.layout import layout_part
    from academy.core.pdf import FONT_FACES
    from academy.core.text import moment
    from academy.core.urls import absolute_url, template_url_for
    from academy.institutions import permissions as institution_permissions

    app.jinja_env.globals.update(
        Role=Role,
        absolute_url=absolute_url,
        url_for=template_url_for,
        layout_part=layout_part,
        navigation=navigation,
        html_lang=html_lang,
        languages=locales.LOCALES,
        pdf_font_faces=Markup(FONT_FACES),  # the PDFs' own embedded fonts (academy/core/pdf.py)
        language_switcher=language_switcher,
        can_view_staff=institution_permissions.can_view_staff,
        can_rotate_code=institution_permissions.can_rotate_code,
    )
    # Flask-WTF hands templates its own csrf_token in their context, which a global cannot override.
    app.context_processor(lambda: {"csrf_token": csrf_token})
    # Days and moments as the page's language writes them (Babel): "7 dhjetor 2026", "7. 12. 2026. 19:36".
    app.jinja_env.filters["day"] = lambda value: format_date(value, "medium") if value else ""
    app.jinja_env.filters["moment"] = moment
    app.jinja_env.filters["decimal"] = lambda value, pattern="#,##0.###": format_decimal(value, format=pattern)
    app.after_request(say_the_language)
    _install_page_translations(app)


def _install_page_translations(app: Flask) -> None:
    """Templates translate through the page's translations, looked up once per page: Flask-Babel's own template
    functions look them up again for every string, a tenth of the time of a lesson page. Each function does what
    Jinja's new-style gettext does (escape, then fill in the variables, always), in one call instead of three."""
    app.context_processor(lambda: {"_page_translations": get_translations()})

    def of(context):
        # Macros imported without context have no page translations of their own: they look them up.
        translations = context.get("_page_translations")
        return get_translations() if translations is None else translations

    def filled(context, text, variables):
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    @pass_context
    def gettext(context, string, **variables):
        return filled(context, of(context).ugettext(string), variables)

    @pass_context
    def ngettext(context, singular, plural, n, **variables):
        variables.setdefault("num", n)
        return filled(context, of(context).ungettext(singular, plural, n), variables)

    @pass_context
    def pgettext(context, kind, string, **variables):
        variables.setdefault("context", kind)
        return filled(context, of(context).upgettext(kind, string), variables)

    @pass_context
    def npgettext(context, kind, singular, plural, n, **variables):
        variables.setdefault("context", kind)
        variables.setdefault("num", n)
        return filled(context, of(context).unpgettext(kind, singular, plural, n), variables)

    # {% trans %} blocks call them with their variables, as Jinja's own (an attribute the i18n extension adds).
    app.jinja_env.newstyle_gettext = True  # type: ignore[attr-defined]
    app.jinja_env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext, pgettext=pgettext, npgettext=npgettext)
