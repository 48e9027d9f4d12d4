"""Django settings for pyck's test suite.

SQLite in memory by default; PostgreSQL (or another database) when ``DATABASE_URL`` is set, for example
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pyck``. The test database is ``test_<name>``.
"""

import os

import dj_database_url

SECRET_KEY = "pyck-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",
    "pyck.core",
    "tests.testapp",
    "tests.through_support",
    "tests.children_support",
    "tests.tombstone_support",
    "tests.webhook_support",
    "tests.sheets_support",
    "tests.airtable_support",
    "tests.stripe_support",
    "tests.action_network_support",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

ROOT_URLCONF = "tests.urls"


# An empty DATABASE_URL means the default too (dj_database_url.config would return {} for it).
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or "sqlite://:memory:")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"pyck": {"level": "DEBUG"}},
}

# No built-in health check task: the cron tests count the registered tasks (tests/health registers it itself).
PYCK = {"HEALTH_CHECK_INTERVAL": None}

# The secret of the webhook receivers of tests/webhook_support (a Standard Webhooks "whsec_" secret).
HELPDESK_WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# pyck.contrib.nationbuilder's tests (tests/nationbuilder_support): the nation, and the webhook token of its receiver.
INSTALLED_APPS += ["tests.nationbuilder_support"]
NATIONBUILDER_SLUG = "testnation"
NATIONBUILDER_WEBHOOK_TOKEN = "nb-webhook-token-0123456789"
# NationBuilder's budget and tokens are kept in Redis (db 5), which every process shares (no pyck.W012).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "nationbuilder": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/5"},
}
NATIONBUILDER_CACHE = "nationbuilder"
# The signing secret of the Stripe receiver of tests/stripe_support (a Stripe "whsec_" endpoint secret).
STRIPE_WEBHOOK_SECRET = "whsec_test_0123456789abcdefLocalStripeSecret"
