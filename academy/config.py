"""Configuration: the only module that reads os.environ."""

import os
from collections.abc import Mapping
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

# Defaults: the folders of the checkout the package sits in. An installed package (pip install .) sits in
# site-packages instead, and is pointed at its folders with INSTANCE_DIR and CONTENT_DIR (or COURSES_DIR and
# EXERCISES_DIR).
CHECKOUT_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = CHECKOUT_DIR / "instance"
COURSES_DIR = CHECKOUT_DIR / "courses"
EXERCISES_DIR = CHECKOUT_DIR / "exercises"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class ConfigError(RuntimeError):
    """Raised when the environment cannot run the academy safely."""


class Config:
    ENV_NAME = "development"
    SECRET_KEY = "dev-only-insecure-key"
    INSTANCE_DIR = INSTANCE_DIR  # the default SQLite database and job queue
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'academy.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Every request body, uploads included: 10,000 staff with long addresses and six course titles each is 3.6 MB.
    MAX_CONTENT_LENGTH = 5 * 1024 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Security headers (academy/core/security.py). HSTS only in production: TLS ends at the reverse proxy there,
    # while a development server on plain http must not teach a browser to insist on https for localhost.
    HSTS_ENABLED = False
    HSTS_MAX_AGE = 365 * 24 * 3600
    HSTS_INCLUDE_SUBDOMAINS = True
    REFERRER_POLICY = "strict-origin-when-cross-origin"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # A signed-in session lasts PERMANENT_SESSION_LIFETIME from the last request; its cookie is signed and sent again
    # when it is this old, not with every page (academy/core/sessions.py).
    SESSION_REFRESH_AFTER = timedelta(minutes=5)
    WTF_CSRF_TIME_LIMIT = None
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = None  # the locales offered: None for all of academy/core/locales.py, or a list of their tags
    PASSWORD_HASH_METHOD = "scrypt"
    PASSWORD_RESET_MAX_AGE = 3600
    # The address every absolute link (e-mails, PDFs, QR codes) starts with; never the request's Host header.
    PUBLIC_URL = "http://127.0.0.1:5000"
    # Host names a request may carry; Flask answers any other 400. from_environ sets PUBLIC_URL's host and
    # ALLOWED_HOSTS, and outside production the loopback names too, so the development server answers under both.
    TRUSTED_HOSTS = list(LOOPBACK_HOSTS)
    # Sign-in failures are counted per address and client, so that a stranger can only slow down their own
    # attempts: after LOGIN_MAX_FAILURES, each further one waits twice as long as the last, up to LOGIN_MAX_DELAY.
    LOGIN_MAX_FAILURES = 5
    LOGIN_FIRST_DELAY = timedelta(minutes=1)
    LOGIN_MAX_DELAY = timedelta(hours=12)
    LOGIN_FAILURE_MEMORY = timedelta(days=1)  # how long after its last failure a client's count is kept
    REDIS_URL = None  # shared by every process: rate-limit counters, live-session fan-out and the job queue
    # Work done outside the request (academy/core/jobs.py): auto = Redis with REDIS_URL, else a SQLite file.
    JOBS_QUEUE = "auto"
    JOBS_QUEUE_NAME = "academy-jobs"  # academies sharing one Redis need one queue each
    JOBS_SQLITE_PATH = INSTANCE_DIR / "jobs.db"
    JOBS_IMMEDIATE = False  # run each job inside the request that asks for it (tests)
    # Report files (PDF and XLSX of the completion report, after-action PDFs) are made by the job worker and kept
    # this many days for download, then deleted.
    REPORT_FILES_DAYS = 7
    # An upload of more rows than this is imported by the job worker, with a progress page; smaller ones at once.
    BULK_IMPORT_JOB_ROWS = 500
    TABLETOP_REDIS_CHANNEL = "academy:tabletop:events"
    # How live-session events reach the other processes: auto = Redis with REDIS_URL, else PostgreSQL
    # LISTEN/NOTIFY on a PostgreSQL database, else none (one process, as on SQLite).
    LIVE_RELAY = "auto"
    TABLETOP_PG_CHANNEL = "academy_tabletop_events"  # a NOTIFY channel is per database: academies never share one
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "20 per minute"
    TOKEN_RATE_LIMIT = "10 per minute"
    MAIL_SERVER = None
    MAIL_PORT = 25
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_USE_TLS = False
    MAIL_SENDER = "academy@localhost"
    API_TITLE = "Western Balkans Cybersecurity Academy API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    PAGE_SIZE = 25
    COURSES_DIR = COURSES_DIR
    EXERCISES_DIR = EXERCISES_DIR
    TABLETOP_TICKER = True  # release scheduled injects when due, from one process at a time (tabletop/ticker.py)
    # How often each process looks in the log for events that other processes committed (0: only at keepalives).
    # Without a relay this is how long they take to arrive; with one it catches what the relay lost.
    LIVE_POLL_SECONDS = 1.0
    LIVE_STREAMS_PER_VIEWER = 4  # open streams of one participant (or trainer) per process: a fifth ends the oldest
    LIVE_STREAMS_PER_ADDRESS = 250  # open streams from one client address per process; more are refused (429)

    @classmethod
    def from_environ(cls, environ=None) -> dict:
        """Collect settings from the environment; refuse production without a secret key and a public address."""
        env = os.environ if environ is None else environ
        settings = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
        name = env.get("ACADEMY_ENV", "development")
        settings["ENV_NAME"] = name
        if env.get("INSTANCE_DIR"):
            instance = settings["INSTANCE_DIR"] = _folder(env["INSTANCE_DIR"])
            settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'academy.db'}"
            settings["JOBS_SQLITE_PATH"] = instance / "jobs.db"
        if env.get("CONTENT_DIR"):  # the folder holding courses/ and exercises/
            settings["COURSES_DIR"] = _folder(env["CONTENT_DIR"]) / "courses"
            settings["EXERCISES_DIR"] = _folder(env["CONTENT_DIR"]) / "exercises"
        for key in ("COURSES_DIR", "EXERCISES_DIR"):
            if env.get(key):
                settings[key] = _folder(env[key])
        if env.get("DATABASE_URL"):
            settings["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(env["DATABASE_URL"])
        if env.get("SECRET_KEY"):
            settings["SECRET_KEY"] = env["SECRET_KEY"]
        elif name == "production":
            raise ConfigError("SECRET_KEY must be set when ACADEMY_ENV=production.")
        if env.get("PUBLIC_URL"):
            settings["PUBLIC_URL"] = _public_url(env["PUBLIC_URL"])
        elif name == "production":
            raise ConfigError("PUBLIC_URL must be set when ACADEMY_ENV=production (e.g. https://academy.example.org).")
        allowed = [host.strip().lower() for host in env.get("ALLOWED_HOSTS", "").split(",") if host.strip()]
        loopback = [] if name == "production" else LOOPBACK_HOSTS
        settings["TRUSTED_HOSTS"] = list(
            dict.fromkeys([urlsplit(settings["PUBLIC_URL"]).hostname, *allowed, *loopback])
        )
        if name == "production":
            settings["SESSION_COOKIE_SECURE"] = True
            settings["REMEMBER_COOKIE_SECURE"] = True
            settings["HSTS_ENABLED"] = True
        if env.get("REDIS_URL"):
            settings["REDIS_URL"] = env["REDIS_URL"]
            settings["RATELIMIT_STORAGE_URI"] = env["REDIS_URL"]
        if env.get("JOBS_QUEUE"):
            settings["JOBS_QUEUE"] = env["JOBS_QUEUE"].strip().lower()
            if settings["JOBS_QUEUE"] not in ("auto", "redis", "sqlite"):
                raise ConfigError("JOBS_QUEUE must be auto, redis or sqlite.")
        if env.get("JOBS_QUEUE_NAME"):
            settings["JOBS_QUEUE_NAME"] = env["JOBS_QUEUE_NAME"]
        if env.get("TABLETOP_REDIS_CHANNEL"):  # academies sharing one Redis need one channel each
            settings["TABLETOP_REDIS_CHANNEL"] = env["TABLETOP_REDIS_CHANNEL"]
        if env.get("LIVE_RELAY"):
            settings["LIVE_RELAY"] = env["LIVE_RELAY"].strip().lower()
            if settings["LIVE_RELAY"] not in ("auto", "redis", "postgres", "none"):
                raise ConfigError("LIVE_RELAY must be auto, redis, postgres or none.")
        for key in ("LOGIN_RATE_LIMIT", "TOKEN_RATE_LIMIT"):
            if env.get(key):
                settings[key] = env[key]
        for key in ("MAIL_SERVER", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_SENDER"):
            if env.get(key):
                settings[key] = env[key]
        if env.get("MAIL_PORT"):
            settings["MAIL_PORT"] = int(env["MAIL_PORT"])
        settings["MAIL_USE_TLS"] = env.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes")
        if env.get("MAX_UPLOAD_MB"):
            settings["MAX_CONTENT_LENGTH"] = int(env["MAX_UPLOAD_MB"]) * 1024 * 1024
        if env.get("PROXY_FIX"):
            settings["PROXY_FIX"] = int(env["PROXY_FIX"])
        for key in ("LIVE_STREAMS_PER_VIEWER", "LIVE_STREAMS_PER_ADDRESS", "REPORT_FILES_DAYS", "BULK_IMPORT_JOB_ROWS"):
            if env.get(key):
                settings[key] = _positive(key, env[key], int)
        if env.get("LIVE_POLL_SECONDS"):
            settings["LIVE_POLL_SECONDS"] = _positive("LIVE_POLL_SECONDS", env["LIVE_POLL_SECONDS"], float, zero=True)
        return settings


def _folder(value: str) -> Path:
    # Relative to the directory the command starts in, made absolute once so that nothing later depends on it.
    return Path(value).expanduser().resolve()


# The packages of the optional extras (pyproject.toml) that a setting can ask for.
EXTRAS = {"postgresql": "psycopg", "redis": "redis"}


def _extras_needed(config: Mapping) -> dict[str, str]:
    needed = {}
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql+psycopg:"):
        needed["postgresql"] = "A PostgreSQL DATABASE_URL"
    redis_settings = [
        name
        for name, asks in (
            ("REDIS_URL", config.get("REDIS_URL")),
            ("JOBS_QUEUE=redis", config.get("JOBS_QUEUE") == "redis"),
            ("LIVE_RELAY=redis", config.get("LIVE_RELAY") == "redis"),
            ("RATELIMIT_STORAGE_URI", str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("redis")),
        )
        if asks
    ]
    if redis_settings:
        needed["redis"] = redis_settings[0]
    return needed


def check_extras(config: Mapping) -> None:
    """Refuse to start when a setting needs the package of an optional extra that is not installed."""
    for extra, setting in _extras_needed(config).items():
        if find_spec(EXTRAS[extra]) is None:
            raise ConfigError(
                f"{setting} needs the {EXTRAS[extra]} package, which is not installed: "
                f"pip install 'wb-cyber-academy[{extra}]'."
            )


def _positive(key: str, value: str, kind, zero: bool = False):
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"{key} must be a number, not {value!r}.") from None
    if number < 0 or (number == 0 and not zero):
        raise ConfigError(f"{key} must be {'zero or more' if zero else 'more than zero'}, not {value!r}.")
    return number


def _public_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"PUBLIC_URL must be an http(s) address such as https://academy.example.org, not {url!r}.")
    return parts.geturl().rstrip("/")


def _normalise_db_url(url: str) -> str:
    # Hosting platforms often hand out postgres://; SQLAlchemy wants a dialect, and the driver we ship is psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class TestConfig:
    """Overrides applied by the test-suite on top of Config."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    PUBLIC_URL = "http://localhost"  # the test client's own address
    TRUSTED_HOSTS = ["localhost", "127.0.0.1"]  # the test client, and the browser tests' server on 127.0.0.1
    JOBS_QUEUE = "memory"  # a test that inspects the queue turns JOBS_IMMEDIATE off
    JOBS_IMMEDIATE = True
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"  # a developer's REDIS_URL must not leak counters between tests
    REDIS_URL = None
    LIVE_RELAY = "none"  # a test that needs events to cross processes turns the relay on
    WTF_CSRF_ENABLED = False
    TABLETOP_TICKER = False  # a test that needs the background ticker turns it on
    LIVE_POLL_SECONDS = 0  # likewise the log poller: streams still read the log at their keepalive
