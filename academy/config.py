"""Configuration: the only module that reads os.environ."""
import os
from datetime import timedelta
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
COURSES_DIR = Path(__file__).resolve().parent.parent / "courses"
EXERCISES_DIR = Path(__file__).resolve().parent.parent / "exercises"


class ConfigError(RuntimeError):
    """Raised when the environment cannot run the academy safely."""


class Config:
    ENV_NAME = "development"
    SECRET_KEY = "dev-only-insecure-key"
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
    WTF_CSRF_TIME_LIMIT = None
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ["en"]
    PASSWORD_HASH_METHOD = "scrypt"
    PASSWORD_RESET_MAX_AGE = 3600
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15
    REDIS_URL = None  # shared by every process: rate-limit counters and live-session fan-out
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
    TABLETOP_TICKER = True  # each process releases scheduled injects of running sessions (tabletop/stream.py)

    @classmethod
    def from_environ(cls, environ=None) -> dict:
        """Collect settings from the environment; refuse production without a secret key."""
        env = os.environ if environ is None else environ
        settings = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
        name = env.get("ACADEMY_ENV", "development")
        settings["ENV_NAME"] = name
        if env.get("DATABASE_URL"):
            settings["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(env["DATABASE_URL"])
        if env.get("SECRET_KEY"):
            settings["SECRET_KEY"] = env["SECRET_KEY"]
        elif name == "production":
            raise ConfigError("SECRET_KEY must be set when ACADEMY_ENV=production.")
        if name == "production":
            settings["SESSION_COOKIE_SECURE"] = True
            settings["REMEMBER_COOKIE_SECURE"] = True
            settings["HSTS_ENABLED"] = True
        if env.get("REDIS_URL"):
            settings["REDIS_URL"] = env["REDIS_URL"]
            settings["RATELIMIT_STORAGE_URI"] = env["REDIS_URL"]
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
        return settings


def _normalise_db_url(url: str) -> str:
    # Hosting platforms often hand out postgres://; SQLAlchemy wants a dialect, and the driver we ship is psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class TestConfig:
    """Overrides applied by the test-suite on top of Config."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"  # a developer's REDIS_URL must not leak counters between tests
    REDIS_URL = None
    LIVE_RELAY = "none"  # a test that needs events to cross processes turns the relay on
    WTF_CSRF_ENABLED = False
    TABLETOP_TICKER = False  # a test that needs the background ticker turns it on
