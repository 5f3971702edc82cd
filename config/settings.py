"""Settings for the practice operations service, read from the environment.

With nothing set the service runs embedded on one machine: SQLite in WAL mode, Celery on
kombu's filesystem transport, email to the console, and the MediRecords sandbox as
MediRecords. `DATABASE_URL` and `REDIS_URL` switch it to PostgreSQL and Redis. Every
variable is listed with its default in `.env.example` and in the README.
"""

from datetime import date, timedelta
from pathlib import Path

import django_stubs_ext
import environ
from django_guid.integrations import CeleryIntegration

from config import client_address, secret_keys
from config.log_redaction import UNSCRUBBABLE_DEBUG_LOGGERS

# Generic classes (ModelAdmin[Model], QuerySet[Model]) subscriptable at run time, for mypy.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# Embedded-mode state (SQLite database, broker folders, beat schedule, static files).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)

# --- Core -----------------------------------------------------------------------------

# Unset means production: `make run` and the tests turn debug on explicitly.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Production must be given its keys (checked with FIELD_ENCRYPTION_KEYS just below); a developer's
# machine makes its own once and keeps them in VAR_DIR, never a constant from the repository.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or (
    secret_keys.development_secret_key(var_dir=VAR_DIR) if DEBUG else ""
)
# Comma-separated Fernet keys for health data at rest: the first encrypts, all decrypt
# (rotation adds a new first key).
FIELD_ENCRYPTION_KEYS = [key.strip() for key in env.list("FIELD_ENCRYPTION_KEYS", default=[]) if key.strip()] or (
    [secret_keys.development_field_encryption_key(var_dir=VAR_DIR)] if DEBUG else []
)
# Checked before anything below could read a setting (which would load these settings half-done).
if not DEBUG:
    secret_keys.production_keys_check(secret_key=SECRET_KEY, field_encryption_keys=FIELD_ENCRYPTION_KEYS)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The admin with the clinic's console site (day at a glance, two-factor login).
    "config.apps.ClinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "django_guid",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "practitioners",
    "bookings",
    "forms_intake",
]

MIDDLEWARE = [
    # Before django-guid: a caller's X-Correlation-ID that is not a short safe id is dropped.
    "config.middleware.correlation_id_guard_middleware",
    "django_guid.middleware.guid_middleware",
    "config.middleware.request_log_middleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "config.middleware.practice_time_zone_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

# Benchmarks serve extra baseline views beside the service through their own URLconf.
ROOT_URLCONF = env.str("DJANGO_ROOT_URLCONF", default="config.urls")
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database -------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take the
    # write lock up front so two writers queue on the busy timeout instead of failing with
    # "database is locked" half-way through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Time and language ----------------------------------------------------------------

LANGUAGE_CODE = "en-au"
USE_I18N = True
USE_TZ = True
# Stored times are UTC; the practice zone is for display and for MediRecords' wall times.
TIME_ZONE = "UTC"
PRACTICE_TIME_ZONE = env.str("PRACTICE_TIME_ZONE", default="Australia/Sydney")

# --- Static files ---------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production values whenever DEBUG is off) -------------------------------

SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Preloading asks browsers never to use plain HTTP for the domain: set it false if any
# subdomain of the practice still serves HTTP.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
# Behind a TLS-terminating proxy the original scheme arrives in X-Forwarded-Proto.
BEHIND_TLS_PROXY = env.bool("DJANGO_BEHIND_TLS_PROXY", default=not DEBUG)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp 4 format): scripts, styles and
# everything else from this site only, no inline script or style, never framed: Django's admin
# and django-otp's pages need nothing else (tests/browser checks them in Chromium).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# The largest request body read (Graph notifications, JotForm webhooks, admin forms); a larger
# one is answered 413 by the receivers. Django's own default, 2.5 MiB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_BODY_MAX_BYTES", default=2_621_440)
# Requests per client address (config.client_address) on the public receivers and the login
# page, as "count/period" (s, m, h); over it a request is answered 429 with Retry-After and
# stores nothing. Graph delivers bursts from a few of Microsoft's addresses, hence its room.
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_GRAPH = env.str("RATELIMIT_GRAPH", default="6000/m")
RATELIMIT_JOTFORM = env.str("RATELIMIT_JOTFORM", default="120/m")
RATELIMIT_LOGIN = env.str("RATELIMIT_LOGIN", default="20/m")
# A count the cache lost (down, or a key expiring between add and incr) lets the request through:
# refusing a genuine Graph or JotForm post is worse than a moment without a limit.
RATELIMIT_FAIL_OPEN = True
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 60 * 60)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Staff logins ---------------------------------------------------------------------

# django-axes counts failed logins first, so a locked-out login is refused before its
# password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=60))
# Per login and address: a stranger guessing cannot lock a receptionist out of her own desk.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# The client address, for the lockout and the audit trail alike: REMOTE_ADDR, unless the
# request came through the proxies configured here; then the address they say connected to
# them. Set one: TRUSTED_PROXY_IPS, the proxy hops in front of the service, outermost first
# (each an address, CIDR network or prefix), or TRUSTED_PROXY_COUNT, how many there are
# (only if nothing but those proxies can reach the service). The default trusts nothing.
TRUSTED_PROXY_IPS = env.list("TRUSTED_PROXY_IPS", default=[])
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
client_address.trusted_proxies_check(proxy_count=TRUSTED_PROXY_COUNT, proxy_ips=TRUSTED_PROXY_IPS)
# django-ipware reads the chain (config/client_address.py); django-axes's own use of it is
# not enough here: it would believe a proxy's address that a direct client wrote itself.
AXES_CLIENT_IP_CALLABLE = "config.client_address.client_ip_address"
# Time-based one-time passwords for the console; on wherever DEBUG is off.
ADMIN_REQUIRE_TWO_FACTOR = env.bool("ADMIN_REQUIRE_TWO_FACTOR", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Clinic operations")
# Second factors' secrets (TOTP keys, backup codes) are never shown again once a device exists;
# a new authenticator's QR code is shown once to whoever adds it (practitioners/admin.py).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/calendars/.*$"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

# --- Cache and Celery -----------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # The receivers' rate limits read the cache while the sender waits: fail fast, as
            # the broker does, rather than hang on a Redis that does not answer.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    # A task whose worker dies is handed to another worker once this has passed.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": 3600,
        # A receiver publishes while the sender waits: fail fast rather than hang on Redis.
        "socket_connect_timeout": 1,
        "socket_timeout": 2,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # kombu's filesystem transport: a queue in a folder, so the embedded mode needs no server.
    # It has no fan-out exchanges, hence no remote control.
    _BROKER_DIR = VAR_DIR / "broker"
    for _folder in ("queue", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "control_folder": str(_BROKER_DIR / "control"),
    }
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False

CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Publishing is never retried in the caller: a receiver must answer in time, and every row a
# message was for is found again by a sweep (deliveries, booking syncs).
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# One queue unless told otherwise; end-to-end tests give their worker a queue of its own.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# The inbox: how long a delivery may wait before the sweep enqueues it again, how often the
# sweep runs, and how many attempts a failing delivery gets before it waits for a person.
INBOX_SWEEP_AGE_SECONDS = env.int("INBOX_SWEEP_AGE_SECONDS", default=300)
INBOX_SWEEP_INTERVAL_SECONDS = env.int("INBOX_SWEEP_INTERVAL_SECONDS", default=60)
INBOX_MAX_ATTEMPTS = env.int("INBOX_MAX_ATTEMPTS", default=5)


# --- Email ----------------------------------------------------------------------------

# Embedded, each email is written to a file in var/mail/ rather than printed: process output
# is log output, and an email to a patient holds their name and appointment.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
# A mail server that stops answering must not hold a worker (or the sweep) for ever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Clinic <bookings@clinic.example.com.au>")
ENQUIRIES_EMAIL = env.str("ENQUIRIES_EMAIL", default="enquiries@clinic.example.com.au")

# --- Notifications: what patients and the enquiries inbox are told ----------------------

# The practice as patients see it in emails and calendar invites.
PRACTICE_NAME = env.str("PRACTICE_NAME", default="The Clinic")
PRACTICE_ADDRESS = env.str("PRACTICE_ADDRESS", default="1 Example Street, Sydney NSW 2000")
PRACTICE_PHONE = env.str("PRACTICE_PHONE", default="(02) 9000 0000")
# The invite's ORGANIZER: the address patients' calendars reply to.
PRACTICE_EMAIL = env.str("PRACTICE_EMAIL", default="bookings@clinic.example.com.au")
# The public JotForm links of the intake forms; each is pre-filled with the patient's name,
# email and the booking's reference.
FORMS_MINI_URL = env.str("FORMS_MINI_URL", default="https://form.jotform.com/000000000000001")
FORMS_FULL_URL = env.str("FORMS_FULL_URL", default="https://form.jotform.com/000000000000002")
FORMS_TRIAGE_URL = env.str("FORMS_TRIAGE_URL", default="https://form.jotform.com/000000000000003")
# Sending: attempts before a notification waits for staff, and the first retry's delay
# (doubling each time, with jitter).
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_RETRY_BASE_SECONDS = env.int("NOTIFICATION_RETRY_BASE_SECONDS", default=60)

# --- External systems -----------------------------------------------------------------

MEDIRECORDS_API_URL = env.str("MEDIRECORDS_API_URL", default="http://127.0.0.1:8100/v1")
MEDIRECORDS_FHIR_URL = env.str("MEDIRECORDS_FHIR_URL", default="http://127.0.0.1:8100/fhir/v1")
MEDIRECORDS_API_TOKEN = env.str("MEDIRECORDS_API_TOKEN", default="sandbox-token")
MEDIRECORDS_FHIR_TOKEN = env.str("MEDIRECORDS_FHIR_TOKEN", default="")
MEDIRECORDS_PRACTICE_ID = env.str("MEDIRECORDS_PRACTICE_ID", default="00000000-0000-4000-8000-000000000001")
# The push of bookings: one worker at a time per booking holds a lease that a dead worker's
# lease outlives by at most this long; failures that may pass (429, 5xx, no answer) are retried
# with exponential back-off and full jitter until the horizon, then wait for a person.
MEDIRECORDS_SYNC_LEASE_SECONDS = env.int("MEDIRECORDS_SYNC_LEASE_SECONDS", default=300)
MEDIRECORDS_SYNC_RETRY_BASE_SECONDS = env.float("MEDIRECORDS_SYNC_RETRY_BASE_SECONDS", default=10.0)
# The cap is minutes, not an hour: a booking must not wait long after MediRecords is back.
MEDIRECORDS_SYNC_RETRY_MAX_SECONDS = env.float("MEDIRECORDS_SYNC_RETRY_MAX_SECONDS", default=120.0)
MEDIRECORDS_SYNC_RETRY_HORIZON_SECONDS = env.int("MEDIRECORDS_SYNC_RETRY_HORIZON_SECONDS", default=24 * 60 * 60)
# While MediRecords is unreachable, beat asks it this often whether it answers again; when it
# does, the syncs waiting on their back-off are enqueued at once, this many at a time.
MEDIRECORDS_PROBE_INTERVAL_SECONDS = env.int("MEDIRECORDS_PROBE_INTERVAL_SECONDS", default=30)
MEDIRECORDS_RECOVERY_BATCH_SIZE = env.int("MEDIRECORDS_RECOVERY_BATCH_SIZE", default=100)
# What a patient created from a booking carries where the booking told us nothing; chosen so
# staff recognise them at a glance. The intake forms replace them.
MEDIRECORDS_PLACEHOLDER_DOB = date.fromisoformat(env.str("MEDIRECORDS_PLACEHOLDER_DOB", default="1900-01-01"))
MEDIRECORDS_PLACEHOLDER_GENDER = env.int("MEDIRECORDS_PLACEHOLDER_GENDER", default=3)
MEDIRECORDS_PLACEHOLDER_LAST_NAME = env.str("MEDIRECORDS_PLACEHOLDER_LAST_NAME", default="UNKNOWN")
# The appointment's reminder fields, which make MediRecords send the SMS and email reminders.
# The codes are unconfirmed (no public code table): check them with MediRecords; empty omits one.
MEDIRECORDS_EMAIL_REMINDER = env.bool("MEDIRECORDS_EMAIL_REMINDER", default=True)
MEDIRECORDS_REMINDER_METHOD = env.str("MEDIRECORDS_REMINDER_METHOD", default="1")
MEDIRECORDS_REMINDER_TYPE = env.str("MEDIRECORDS_REMINDER_TYPE", default="1")
# The longest names and appointment notes MediRecords is taken to hold (public notes give 500
# for notes; 100 for names is assumed). A longer name is never sent cut short: the booking
# waits for staff. Longer notes are cut, saying so, the full reason staying with the booking.
MEDIRECORDS_NAME_MAX_LENGTH = env.int("MEDIRECORDS_NAME_MAX_LENGTH", default=100)
MEDIRECORDS_NOTES_MAX_LENGTH = env.int("MEDIRECORDS_NOTES_MAX_LENGTH", default=500)
# The appointment's `cancellationReason` on a cancellation: a code, sent as a number as public
# clients send it (the code table is unpublished: check it with MediRecords); the words go to
# the appointment's notes.
MEDIRECORDS_CANCELLATION_REASON_CODE = env.int("MEDIRECORDS_CANCELLATION_REASON_CODE", default=1)

GRAPH_API_URL = env.str("GRAPH_API_URL", default="https://graph.microsoft.com/v1.0")
AZURE_AUTHORITY_HOST = env.str("AZURE_AUTHORITY_HOST", default="https://login.microsoftonline.com")
AZURE_TENANT_ID = env.str("AZURE_TENANT_ID", default="")
AZURE_CLIENT_ID = env.str("AZURE_CLIENT_ID", default="")
AZURE_CLIENT_SECRET = env.str("AZURE_CLIENT_SECRET", default="")

# An extra CA bundle for the identity provider and Graph (a local fake's self-signed
# certificate); empty trusts the system's CAs only.
AZURE_CA_BUNDLE = env.str("AZURE_CA_BUNDLE", default="")
# Outlook event subscriptions live at most 10,080 minutes; ask for a little less, and renew
# any that would expire within the margin.
GRAPH_SUBSCRIPTION_LIFETIME_MINUTES = env.int("GRAPH_SUBSCRIPTION_LIFETIME_MINUTES", default=10_000)
GRAPH_SUBSCRIPTION_RENEWAL_MARGIN_MINUTES = env.int("GRAPH_SUBSCRIPTION_RENEWAL_MARGIN_MINUTES", default=24 * 60)
GRAPH_SUBSCRIPTION_RENEWAL_INTERVAL_SECONDS = env.int("GRAPH_SUBSCRIPTION_RENEWAL_INTERVAL_SECONDS", default=15 * 60)
# Failed renewals in a row before a subscription is shown as unhealthy in admin.
GRAPH_SUBSCRIPTION_UNHEALTHY_AFTER_FAILURES = env.int("GRAPH_SUBSCRIPTION_UNHEALTHY_AFTER_FAILURES", default=3)
# Seconds a web process keeps a subscription's clientState and receiver after reading them.
GRAPH_SUBSCRIPTION_CACHE_SECONDS = env.int("GRAPH_SUBSCRIPTION_CACHE_SECONDS", default=30)
# The window a calendar resync (a newly subscribed calendar, missed notifications) reads: from
# yesterday to this far ahead. Must reach the furthest date Calendly lets patients book.
GRAPH_RESYNC_DAYS_AHEAD = env.int("GRAPH_RESYNC_DAYS_AHEAD", default=365)
# How often beat checks that Graph still holds each subscription (also done when beat starts).
GRAPH_SUBSCRIPTION_CHECK_INTERVAL_SECONDS = env.int("GRAPH_SUBSCRIPTION_CHECK_INTERVAL_SECONDS", default=60 * 60)

JOTFORM_API_URL = env.str("JOTFORM_API_URL", default="https://api.jotform.com")
JOTFORM_API_KEY = env.str("JOTFORM_API_KEY", default="")
JOTFORM_WEBHOOK_TOKEN = env.str("JOTFORM_WEBHOOK_TOKEN", default="")

# FIELD_ENCRYPTION_KEYS (health data at rest) is read with the secret key, under Core.

# Intake forms: how long to wait for JotForm's API when re-reading a submission, and how many
# rows `rotate_encryption_keys` re-encrypts per transaction.
FORMS_JOTFORM_TIMEOUT_SECONDS = env.float("FORMS_JOTFORM_TIMEOUT_SECONDS", default=10.0)
FORMS_ROTATION_BATCH_SIZE = env.int("FORMS_ROTATION_BATCH_SIZE", default=500)

CELERY_BEAT_SCHEDULE = {
    "inbox-sweep": {
        "task": "bookings.tasks.inbox_sweep",
        "schedule": float(INBOX_SWEEP_INTERVAL_SECONDS),
    },
    "calendar-resyncs-due": {
        "task": "bookings.tasks.calendar_resyncs_due",
        "schedule": float(INBOX_SWEEP_INTERVAL_SECONDS),
    },
    "booking-sync-sweep": {
        "task": "bookings.tasks.booking_sync_sweep",
        "schedule": float(INBOX_SWEEP_INTERVAL_SECONDS),
    },
    "medirecords-probe": {
        "task": "bookings.tasks.medirecords_probe",
        "schedule": float(MEDIRECORDS_PROBE_INTERVAL_SECONDS),
    },
    "notification-sweep": {
        "task": "bookings.tasks.notification_sweep",
        "schedule": float(INBOX_SWEEP_INTERVAL_SECONDS),
    },
    "graph-subscriptions-renew": {
        "task": "practitioners.tasks.graph_subscriptions_renew",
        "schedule": float(GRAPH_SUBSCRIPTION_RENEWAL_INTERVAL_SECONDS),
    },
    "graph-subscriptions-check": {
        "task": "bookings.tasks.graph_subscriptions_check",
        "schedule": float(GRAPH_SUBSCRIPTION_CHECK_INTERVAL_SECONDS),
    },
}

# --- Logging: one JSON line per event, correlation id on each, health data scrubbed -----

DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Correlation-ID",
    "VALIDATE_GUID": False,
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True, log_parent=False)],
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "correlation_id": {"()": "django_guid.log_filters.CorrelationId"},
        "health_data": {"()": "config.log_redaction.HealthDataFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["correlation_id", "health_data"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers write unscrubbed (its console handler under DEBUG, mail_admins with
        # the request): its records go to the one handler above like everyone else's.
        "django": {"handlers": [], "propagate": True},
        # Request lines come from our own middleware; Django's would repeat them.
        "django.server": {"level": "WARNING", "propagate": True},
        "django.request": {"level": "ERROR"},
        **{name: {"level": "INFO"} for name in UNSCRUBBABLE_DEBUG_LOGGERS},
        # Libraries that log every URL they call at DEBUG (MediRecords' searches carry names and
        # dates of birth in the query string): capped whatever LOG_LEVEL says.
        "urllib3": {"level": "WARNING"},
        "requests": {"level": "WARNING"},
        "msal": {"level": "WARNING"},
        "kombu": {"level": "WARNING"},
        "django_guid": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
    },
}
