"""Settings for development, tests and (through settings_production) production.

Everything a deployment changes is read from the environment; the defaults
are safe for a laptop and refused by ``settings_production``.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from .env import envbool, envfloat, envint, envlist, listening_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
DEV_ENCRYPTION_KEY = "dev-only-insecure-encryption-key-change-me"

SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
DEBUG = envbool("DEBUG", True)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "integrations_site.apps.IntegrationsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_standardized_errors",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_q",
    "integrations",
    "runs",
    "webhooks",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "integrations_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "integrations_site.wsgi.application"

# --- Database ---------------------------------------------------------------
# SQLite by default; DATABASE_URL (for example postgres://user@host/db) for
# scale-out. On SQLite, WAL lets readers work beside the one writer, and
# IMMEDIATE transactions take the write lock up front so that concurrent
# writers wait (busy timeout) instead of failing with "database is locked".
# Connections are kept (checked before reuse): django-q2 closes old connections
# before every task, and opening one cost more than the polls a task sends.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
SQLITE_JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        # auto_vacuum takes effect only on a database that has no table yet (or at its next VACUUM:
        # `manage.py prune_exchanges --vacuum`); retention then hands freed pages back to the file
        # system a few at a time (PRAGMA incremental_vacuum). The WAL is cut back to the limit after
        # each checkpoint, whatever a large write once made it grow to.
        "init_command": "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT};",
    }
    # A file, not memory, so that a cluster started by a test sees the test
    # database; one per test process, so that test runs side by side don't meet.
    DATABASES["default"]["TEST"] = {"NAME": f"{tempfile.gettempdir()}/integrations-test-{os.getpid()}.sqlite3"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic gathers the admin's files for production (serve.sh runs it).
STATIC_ROOT = os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles"

LOGIN_URL = "admin:login"

# --- Content-Security-Policy (django-csp) ----------------------------------------
# Scripts and styles only from this site's own files: no inline <script>, no
# on...= handlers, no javascript: URLs, no inline styles, so that stored text
# which ever reached a page as markup could not run. Images may also come from
# any http(s) URL (an integration's logo) and data: URLs (the API docs' icons).
# The browsable API allows inline styles (DRF's templates use style attributes);
# see integrations_site/browsable_api.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "https:", "http:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# No error page or report shows a secret, with DEBUG on too (integrations_site/error_reports.py).
DEFAULT_EXCEPTION_REPORTER = "integrations_site.error_reports.SecretsHiddenReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "integrations_site.error_reports.SecretsHiddenFilter"

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Authorization: Token <key> or Bearer <key> (one key)
        "integrations.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        # No credentials: counted per address (429 past INTEGRATIONS_API_THROTTLE_ANON).
        "integrations_site.throttling.AnonymousLimit",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["integrations.permissions.ModelPermissions"],
    # JSON only: a form or multipart body is a 415, never a definition with its secrets silently dropped.
    "DEFAULT_PARSER_CLASSES": ["integrations.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["integrations.filters.FilterBackend"],  # strict: bad or empty values are 400s
    "DEFAULT_SCHEMA_CLASS": "integrations.openapi.AutoSchema",
    # One error shape everywhere (README, "API conventions"; integrations/api_errors.py).
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "integrations_site.browsable_api.BrowsableAPIRenderer",
    ],
    # 429 with Retry-After past these rates (integrations_site/throttling.py; README, "API conventions").
    "DEFAULT_THROTTLE_CLASSES": [
        "integrations_site.throttling.UserThrottle",
    ],
}
# Requests per user (token or session), per address without credentials, per callback token; read at each
# request ("1200/min", "20/s", "50000/day"; blank: no limit). Counted in the cache below.
INTEGRATIONS_API_THROTTLE_USER = os.environ.get("INTEGRATIONS_API_THROTTLE_USER", "1200/min") or None
INTEGRATIONS_API_THROTTLE_ANON = os.environ.get("INTEGRATIONS_API_THROTTLE_ANON", "120/min") or None
INTEGRATIONS_API_THROTTLE_CALLBACK = os.environ.get("INTEGRATIONS_API_THROTTLE_CALLBACK", "120/min") or None
# Failed admin sign-ins per address and username before the form refuses for the rest of the window.
INTEGRATIONS_LOGIN_ATTEMPTS = os.environ.get("INTEGRATIONS_LOGIN_ATTEMPTS", "10/hour") or None
SPECTACULAR_SETTINGS = {
    "TITLE": "Integrations API",
    "DESCRIPTION": "Define integrations and actions, start runs, follow them, refire and cancel them.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ serves Swagger UI from this site's static files (drf-spectacular-sidecar), not from a CDN:
    # the docs work without internet, and the page's policy needs no other origin. No validator badge:
    # Swagger UI would send the schema's URL to swagger.io for it.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # drf-standardized-errors' copy of the enum hook (it leaves the error components' enums alone).
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
                             # Unknown fields are refused: request components say so (additionalProperties).
                             "integrations.openapi.refuse_unknown_request_fields",
                             # An empty query value is a 400: text parameters say minLength 1.
                             "integrations.openapi.no_empty_query_values"],
    # One name for a choice set that several fields share (an action's request, polling and cancel webhook).
    "ENUM_NAME_OVERRIDES": {
        "MethodEnum": "integrations.models.Method",
        "BodyTypeEnum": "integrations.models.BodyType",
        "ErrorPolicyEnum": "integrations.models.ErrorPolicy",
        "StatusEnum": "runs.models.Status",
        "WebhookEventEnum": "runs.events.Event",
        "DeliveryStatusEnum": "webhooks.models.DeliveryStatus",
        "ErrorTypeEnum": ["validation_error", "client_error", "server_error"],
    },
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "integrations.api_errors.ApiExceptionHandler",
    # One schema component for every error answer, 400 included (not one per operation).
    "ERROR_SCHEMAS": {code: "integrations.api_errors.ErrorResponseSerializer"
                      for code in ("400", "401", "403", "404", "405", "406", "415", "429", "500")},
}

# --- Background work (django-q2) ---------------------------------------------
# The ORM broker by default, so one SQLite file holds everything; REDIS_URL
# switches to the Redis broker for several clusters on several machines.
# save_limit -1: a successful task leaves no result row (polls are frequent,
# their record is the run's exchanges).
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", "integrations"),
    # One more than the cores: a worker spends part of each batch waiting on
    # the network and the database, and the spare one fills those gaps.
    "workers": envint("Q_WORKERS", (os.cpu_count() or 1) + 1),
    "recycle": 5000,
    "timeout": envint("Q_TIMEOUT", 300),
    "retry": envint("Q_TIMEOUT", 300) + 60,
    "max_attempts": 1,
    "save_limit": -1,
    "catch_up": False,
    "ack_failures": True,
    "label": "Task queue",
    # Due times live on the runs (runs/dispatch.py); django-q2's own scheduler has nothing to do, and would
    # only query the database every 30 s (and log a traceback each time it is down).
    "scheduler": False,
    # The sentinel checks its workers and saves the cluster's status (the ORM broker: a cache file) each
    # cycle: every 0.5 s by default, a third of an idle cluster's CPU. A worker that died is replaced within it.
    "guard_cycle": envfloat("Q_GUARD_CYCLE", 2.0),
}
# The cache holds the throttles' counters, so it must be shared by every process: Redis when REDIS_URL is
# set, otherwise files in CACHE_DIR (never the per-process local memory cache).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "integrations"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": os.environ.get("CACHE_DIR") or str(BASE_DIR / ".cache")}}
# The brokers are django-q2's, made to wait out an outage quietly (runs/brokers.py).
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    Q_CLUSTER["broker_class"] = "runs.brokers.Redis"
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["broker_class"] = "runs.brokers.ORM"
    Q_CLUSTER["poll"] = envfloat("Q_ORM_POLL", 0.05)

# --- Integrations ---------------------------------------------------------------
# Key that encrypts secrets at rest. Any string; a Fernet key is derived from it.
INTEGRATIONS_ENCRYPTION_KEY = os.environ.get("INTEGRATIONS_ENCRYPTION_KEY", DEV_ENCRYPTION_KEY)
# Hosts outbound requests may reach. Empty: everything except link-local and
# cloud metadata addresses. Entries are host names, IP addresses or networks.
INTEGRATIONS_ALLOWED_HOSTS = envlist("INTEGRATIONS_ALLOWED_HOSTS")
# Where this site is reachable from the services that call back. Unset: where it listens (ADDRESS, as
# run.sh and serve.sh read it; PORT alone when it is unset), else http://127.0.0.1:8000.
INTEGRATIONS_PUBLIC_URL = os.environ.get("INTEGRATIONS_PUBLIC_URL") or listening_url(
    os.environ.get("ADDRESS") or os.environ.get("PORT")
)
# The built-in sandbox service that plays a remote job API (demo and tests).
INTEGRATIONS_SANDBOX = envbool("INTEGRATIONS_SANDBOX", True)
# Bytes of a response body read at most (the rest is not downloaded) and kept in the log.
INTEGRATIONS_MAX_RESPONSE_BYTES = envint("INTEGRATIONS_MAX_RESPONSE_BYTES", 1024 * 1024)
INTEGRATIONS_MAX_LOGGED_BYTES = envint("INTEGRATIONS_MAX_LOGGED_BYTES", 64 * 1024)
INTEGRATIONS_MAX_CALLBACK_BYTES = envint("INTEGRATIONS_MAX_CALLBACK_BYTES", 1024 * 1024)
# The largest response an action's save_as_file keeps (such a request reads up to this, not the cap
# above); a larger one fails the run. Files are stored in Django's default storage, under MEDIA_ROOT.
INTEGRATIONS_MAX_FILE_BYTES = envint("INTEGRATIONS_MAX_FILE_BYTES", 10 * 1024 * 1024)
MEDIA_ROOT = os.environ.get("MEDIA_ROOT") or BASE_DIR / "media"
# What one import (an export document or a ChiefOnboarding manifest) may hold: its size as JSON, the
# actions it makes and their rows (inputs, conditions, mappings). Checking and writing grow with each; these
# keep an import to seconds, and its write transaction (SQLite's one write lock) well under one.
INTEGRATIONS_IMPORT_MAX_BYTES = envint("INTEGRATIONS_IMPORT_MAX_BYTES", 1024 * 1024)
INTEGRATIONS_IMPORT_MAX_ACTIONS = envint("INTEGRATIONS_IMPORT_MAX_ACTIONS", 200)
INTEGRATIONS_IMPORT_MAX_ROWS = envint("INTEGRATIONS_IMPORT_MAX_ROWS", 5000)
# Retention, applied by the cluster (runs.retention) and by prune_exchanges: the exchanges of runs
# finished longer ago than this are removed, and a log keeps its first and last so many exchanges
# (the ones between become one "exchanges pruned" row).
INTEGRATIONS_EXCHANGE_RETENTION_DAYS = envint("INTEGRATIONS_EXCHANGE_RETENTION_DAYS", 30)
INTEGRATIONS_EXCHANGES_KEPT_PER_RUN = envint("INTEGRATIONS_EXCHANGES_KEPT_PER_RUN", 100)
# Webhook deliveries delivered longer ago than this are removed too (failed and given-up ones stay).
INTEGRATIONS_WEBHOOK_DELIVERY_RETENTION_DAYS = envint("INTEGRATIONS_WEBHOOK_DELIVERY_RETENTION_DAYS", 30)
# Seconds the cluster waits after a retention pass that left nothing to remove: between passes a log
# may grow past the limit above by what its run logs in this time.
INTEGRATIONS_RETENTION_INTERVAL = envfloat("INTEGRATIONS_RETENTION_INTERVAL", 60)

# How long a claimed run may wait in the queue before another worker may take
# it (a worker that died is replaced after this, plus the action's timeouts).
INTEGRATIONS_LEASE_SECONDS = envfloat("INTEGRATIONS_LEASE_SECONDS", 30)
# Seconds a stopping runworkers gives the requests it has in flight to finish and be written back
# (whatever the stop signal: SIGTERM or SIGINT, to it or to its whole process group); what is still out
# then is killed, and its runs are taken over as interrupted. Keep the supervisor's own stop timeout
# longer (systemd: TimeoutStopSec).
INTEGRATIONS_STOP_GRACE = envfloat("INTEGRATIONS_STOP_GRACE", 10)
# The dispatcher: how often it looks for due runs, how many it claims at once
# and how many runs one django-q2 task handles.
INTEGRATIONS_DISPATCH_TICK = envfloat("INTEGRATIONS_DISPATCH_TICK", 0.05)
# With nothing due it sleeps until the next due time, at most this long; a new run wakes it at once (runs.wakeup).
INTEGRATIONS_DISPATCH_IDLE = envfloat("INTEGRATIONS_DISPATCH_IDLE", 5.0)
INTEGRATIONS_DISPATCH_LIMIT = envint("INTEGRATIONS_DISPATCH_LIMIT", 1000)
INTEGRATIONS_BATCH_SIZE = envint("INTEGRATIONS_BATCH_SIZE", 50)
# Schedules (runs/schedules.py): a tick more late than this (no cluster ran) is missed, and the schedule's
# missed-ticks policy says what happens (skip, or one run for them).
INTEGRATIONS_SCHEDULE_GRACE = envfloat("INTEGRATIONS_SCHEDULE_GRACE", 60)
# Requests one worker process has out at once (a thread each, mostly waiting on the network). A slow
# or hanging service keeps its requests out for as long as its timeouts allow, so this is what lets
# fast runs go on meanwhile; when it is full the worker takes no new batch until one comes back.
INTEGRATIONS_SEND_THREADS = envint("INTEGRATIONS_SEND_THREADS", 200)

# Webhooks (webhooks/delivery.py): the first retry after this many seconds, doubling up to 2 h; a delivery
# is given up this many hours after its event; deliveries sent at once by a cluster.
INTEGRATIONS_WEBHOOK_FIRST_RETRY = envfloat("INTEGRATIONS_WEBHOOK_FIRST_RETRY", 5)
INTEGRATIONS_WEBHOOK_GIVE_UP_HOURS = envfloat("INTEGRATIONS_WEBHOOK_GIVE_UP_HOURS", 24)
INTEGRATIONS_WEBHOOK_THREADS = envint("INTEGRATIONS_WEBHOOK_THREADS", 4)

# GET /api/runs/{id}/?wait=SECONDS waits at most this long for the run's status to change (runs/waiting.py).
INTEGRATIONS_API_MAX_WAIT = envfloat("INTEGRATIONS_API_MAX_WAIT", 60)

# /metrics (Prometheus) asks for `Authorization: Bearer <this>` when set; open when empty.
INTEGRATIONS_METRICS_TOKEN = os.environ.get("INTEGRATIONS_METRICS_TOKEN", "")

# Every line says when, how bad, where from and which process: an operator reads one log for a whole
# cluster.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
