"""Django settings of the webhook inbox benchmark (``benchmarks.bench_webhooks``): the web server (gunicorn) and
the clocks that process the inbox use them. The database is ``PYCK_BENCH_DATABASE_URL``."""

import os

import dj_database_url

SECRET_KEY = "pyck-benchmark-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "pyck.core", "benchmarks.inboxapp"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "benchmarks.inbox_urls"
WSGI_APPLICATION = "benchmarks.inbox_wsgi.application"

DATABASES = {"default": dj_database_url.parse(os.environ["PYCK_BENCH_DATABASE_URL"])}
DATABASES["default"]["CONN_MAX_AGE"] = 600
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Not secret: the benchmark's own signing secret.
BENCH_WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

PYCK = {
    "WEBHOOK_MAX_BODY_SIZE": 64 * 1024,
    "WEBHOOK_POLL_INTERVAL": float(os.environ.get("PYCK_BENCH_POLL", "0.2")),
    "WEBHOOK_CLAIM_DURATION": float(os.environ.get("PYCK_BENCH_CLAIM", "10")),
    "CRON_TICK": 3600.0,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "pyck": {"level": "WARNING", "handlers": ["stderr"]},
        "pyck.webhooks": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "django": {"level": "WARNING", "handlers": ["stderr"]},
    },
}
