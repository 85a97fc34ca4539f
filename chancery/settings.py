"""Django settings for Chancery, read from the environment (see chancery/env.py and README)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from chancery.env import (
    ConfigurationError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_networks,
    env_str,
    load_or_create_secret_key,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent

CHANCERY_DATA_DIR = Path(env_str("CHANCERY_DATA_DIR", "var") or "var").resolve()
CHANCERY_DATA_DIR.mkdir(parents=True, exist_ok=True)
CHANCERY_MASTER_KEY = env_str("CHANCERY_MASTER_KEY")
CHANCERY_ATTACHMENT_DIR = CHANCERY_DATA_DIR / "attachments"
CHANCERY_MAX_ATTACHMENT_BYTES = env_int("CHANCERY_MAX_ATTACHMENT_MB", 50, minimum=1) * 1024 * 1024
CHANCERY_REFERENCE_TEMPLATE = env_str("CHANCERY_REFERENCE_TEMPLATE", "{unit}/{year}/{number:04d}")
CHANCERY_MINISTRY_NAME = env_str("CHANCERY_MINISTRY_NAME", "Ministère des Affaires étrangères")
CHANCERY_BASE_URL = (env_str("CHANCERY_BASE_URL", "http://127.0.0.1:8000") or "").rstrip("/")

DEBUG = env_bool("CHANCERY_DEBUG", False)
SECRET_KEY = env_str("CHANCERY_SECRET_KEY") or load_or_create_secret_key(CHANCERY_DATA_DIR)
ALLOWED_HOSTS = env_list("CHANCERY_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CHANCERY_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "chancery.core",
    "chancery.audit",
    "chancery.crypto",
    "chancery.accounts",
    "chancery.organisation",
    "chancery.correspondence",
    "chancery.planning",
    "chancery.imports",
    "chancery.notifications",
    "chancery.reporting",
    "chancery.backup",
    "chancery.search",
]

MIDDLEWARE = [
    "chancery.core.middleware.SqliteStatisticsMiddleware",
    "chancery.core.middleware.FilteredListMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "chancery.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "chancery.planning.sealed.SealedTextsMiddleware",
    "chancery.crypto.middleware.KeyScopeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "chancery.accounts.middleware.SessionLifetimeMiddleware",
    "chancery.accounts.middleware.SecondFactorRequiredMiddleware",
    "chancery.core.middleware.RequestTextMiddleware",
    "chancery.core.middleware.DomainErrorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "chancery.core.middleware.HtmxMiddleware",
    "chancery.core.middleware.GateEnforcementMiddleware",
]

ROOT_URLCONF = "chancery.urls"
WSGI_APPLICATION = "chancery.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chancery.core.context_processors.chancery",
            ],
            # `{% url %}` answered from memory once reversed (`chancery.core.templatetags.cached_url`).
            "builtins": ["chancery.core.templatetags.cached_url"],
        },
    },
]
# Django's widget templates, the plainest written out in Python (a third of a filter form's cost).
FORM_RENDERER = "chancery.core.form_renderer.FastWidgetRenderer"

_database_url = env_str("DATABASE_URL")
if _database_url:
    _db = parse_database_url(_database_url)
    DATABASES = {
        "default": {
            "ENGINE": _db.engine,
            "NAME": _db.name,
            "USER": _db.user,
            "PASSWORD": _db.password,
            "HOST": _db.host,
            "PORT": _db.port,
            "OPTIONS": dict(_db.options or {}),
            "CONN_MAX_AGE": env_int("CHANCERY_DB_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
        }
    }
    if _db.engine.endswith("sqlite3"):
        DATABASES["default"] = {"ENGINE": _db.engine, "NAME": _db.name}
    else:
        # A page's queries are small and many run at once: parallel workers (whose start-up cost
        # more than the query: a desk officer's inbox counters 81 -> 29 ms at 1M) and JIT
        # compilation (tens of ms, paid whenever a plan's cost estimate is high) only slow them.
        # The inbox's rows (eight relations joined by `select_related`) took 10-11 ms to plan and
        # 1 ms to run: a join order searched over at most 6 relations plans them in 3-4 ms, and
        # Django writes the joins from the listed table outwards, the order the plans keep anyway.
        _session = (
            f"-c max_parallel_workers_per_gather={env_int('CHANCERY_PG_PARALLEL_WORKERS', 0, minimum=0)}"
            f" -c jit={'on' if env_bool('CHANCERY_PG_JIT', False) else 'off'}"
            f" -c join_collapse_limit={env_int('CHANCERY_PG_JOIN_COLLAPSE_LIMIT', 6, minimum=1)}"
        )
        _options: dict[str, Any] = dict(_db.options or {})
        # Reads planned once per connection: `SELECT`s prepared on the server with generic plans,
        # except where the values decide the plan (lists filtered by their reader, run inside
        # `core.db.planned_with_values()`), which are sent with their values as before
        # (`chancery.core.pg_backend`). Planning was most of a page's SQL at 1M (the inbox's rows:
        # 2.2 ms to plan, 0.7 to run). Off (`CHANCERY_PG_PREPARED=false`): every statement is
        # planned with its values, Django's default; also for a pooler in transaction mode
        # (PgBouncer before 1.21), which cannot keep a connection's prepared statements.
        if env_bool("CHANCERY_PG_PREPARED", True):
            DATABASES["default"]["ENGINE"] = "chancery.core.pg_backend"
            _session += " -c plan_cache_mode=force_generic_plan"
        _options["options"] = f"{_options['options']} {_session}" if _options.get("options") else _session
        DATABASES["default"]["OPTIONS"] = _options
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(CHANCERY_DATA_DIR / "chancery.sqlite3"),
        }
    }
if str(DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
    # Persistent too: opening a SQLite connection reads its schema (300 tables and indexes) and
    # runs the PRAGMAs below, about 4 ms, which every request paid (more than the login page's
    # whole answer). Each server thread keeps its own connection (`chancery serve` closes the
    # master's before forking).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CHANCERY_DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # WAL lets readers run beside the writer; IMMEDIATE transactions take the write lock
    # up front, so two concurrent writers queue instead of failing on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        # secure_delete: freed pages are zeroed, so a deleted or re-encrypted protected text does
        # not linger in the file (set here rather than left to how SQLite was built).
        # mmap_size: reads map the file (up to this size; SQLite caps it at its build's limit)
        # rather than copy pages into each connection's 2 MB cache: a list sorted from a
        # reader's access rows reads rows all over a large file (a mission agent's API list at
        # 1M dispatches: 40 -> 26-30 ms of SQL). 0 turns it off.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
        f"PRAGMA secure_delete=ON; PRAGMA mmap_size={env_int('CHANCERY_SQLITE_MMAP_MB', 8192, minimum=0) << 20};",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(CHANCERY_DATA_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Background work (indexing, reports, reminders) goes through Django's tasks interface (the
# django-tasks backport). The database backend needs nothing extra to run: `chancery serve` starts
# a worker beside the server (`chancery db_worker` runs one on its own). "immediate" runs each task
# in the enqueuing process, for one-off scripts.
CHANCERY_TASK_BACKEND = env_choice("CHANCERY_TASK_BACKEND", ("database", "immediate"), "database")
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend"
        if CHANCERY_TASK_BACKEND == "database"
        else "django_tasks.backends.immediate.ImmediateBackend",
        "QUEUES": ["default"],
    }
}
# The cache. "local": each process its own memory (one server). "database": a table of the
# database every server shares (`chancery migrate` creates it), so that what one app server
# caches the others see, with nothing extra to run. See docs/deployment.md.
CHANCERY_CACHE = env_choice("CHANCERY_CACHE", ("local", "database"), "local")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "chancery_cache"}
    if CHANCERY_CACHE == "database"
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "chancery"}
}
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions: an inactivity timeout and an absolute lifetime, both enforced server-side
# by SessionLifetimeMiddleware (the cookie age is only the outer bound).
CHANCERY_SESSION_IDLE_SECONDS = env_int("CHANCERY_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
CHANCERY_SESSION_MAX_SECONDS = env_int("CHANCERY_SESSION_MAX_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_AGE = CHANCERY_SESSION_MAX_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "chancery_session"
SESSION_ENGINE = "chancery.accounts.sessions"  # Django's database sessions, read by a statement written once
CSRF_COOKIE_NAME = "chancery_csrftoken"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "chancery.core.views.csrf_failure"

# Login throttling: exponential back-off per (account, address), per account (from any address)
# and per address, capped so that an attacker can slow a user down but never lock them out for good.
CHANCERY_LOGIN_FREE_ATTEMPTS = env_int("CHANCERY_LOGIN_FREE_ATTEMPTS", 5, minimum=1)
CHANCERY_LOGIN_MAX_DELAY_SECONDS = env_int("CHANCERY_LOGIN_MAX_DELAY_SECONDS", 300, minimum=1)
CHANCERY_TOTP_REQUIRED_LEVEL = 2
# API lists: `limit` is capped (a client asking for a billion rows gets 422, not a long query).
NINJA_PAGINATION_MAX_LIMIT = 1000
# Reverse proxies whose X-Forwarded-For header is believed (addresses or networks). The client
# address is the right-most address of that header not in this list; from any other peer the
# header is ignored (anyone can write it), so throttling and the audit log see the real client.
CHANCERY_TRUSTED_PROXIES = env_networks("CHANCERY_TRUSTED_PROXIES")

_https = env_bool("CHANCERY_HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("CHANCERY_BEHIND_PROXY") else None
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = _https
SECURE_HSTS_SECONDS = 31536000 if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
# Preloading is a one-way commitment for the whole domain: an explicit choice, off by default.
SECURE_HSTS_PRELOAD = _https and env_bool("CHANCERY_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS: list[str] = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English")), ("ar", _("Arabic")), ("es", _("Spanish"))]
LANGUAGE_COOKIE_NAME = "chancery_language"
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["chancery.formats"]  # corrections of Django's date and number formats (Arabic)
TIME_ZONE = env_str("CHANCERY_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = CHANCERY_DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not env_bool("CHANCERY_PLAIN_STATIC")
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_MAX_AGE = 31536000
WHITENOISE_ROOT = BASE_DIR / "core" / "root"  # /favicon.ico, which browsers ask for on their own
WHITENOISE_KEEP_ONLY_HASHED_FILES = True  # only hashed names are ever referenced
MEDIA_ROOT = CHANCERY_DATA_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

EMAIL_HOST = env_str("CHANCERY_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = env_int("CHANCERY_SMTP_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("CHANCERY_SMTP_USER", "") or ""
EMAIL_HOST_PASSWORD = env_str("CHANCERY_SMTP_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("CHANCERY_SMTP_STARTTLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("CHANCERY_FROM_EMAIL", "chancery@ministry.invalid")
EMAIL_BACKEND = env_str("CHANCERY_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")

# Logs carry ids and event names, never protected content.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("CHANCERY_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

if CHANCERY_MAX_ATTACHMENT_BYTES <= 0:  # pragma: no cover - guarded by env_int minimum
    raise ConfigurationError("CHANCERY_MAX_ATTACHMENT_MB must be positive")

AUTHENTICATION_BACKENDS = ["chancery.accounts.backends.ChanceryBackend"]
