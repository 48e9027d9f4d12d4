"""Settings of the example project: the guide's tutorial, runnable.

SQLite (``example_project/db.sqlite3``) by default; any database with ``DATABASE_URL``
(``postgres://postgres@127.0.0.1:5432/pyck_example``). ``PYCK_REPLAY_URL`` points the UK datasources at a
replay server of recorded responses (``python -m pyck.geo.territories.uk.replay``) instead of the real APIs.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "Europe/London"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "pyck.core",
    "example_project.constituencies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "example_project.urls"
STATIC_URL = "static/"

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

# An empty DATABASE_URL means the default too (dj_database_url.config would return {} for it).
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PYCK = {}
if os.environ.get("PYCK_REPLAY_URL"):
    _replay = os.environ["PYCK_REPLAY_URL"].rstrip("/")
    PYCK["UK_PARLIAMENT_BASE_URL"] = f"{_replay}/api"
    PYCK["UK_POSTCODES_BASE_URL"] = _replay

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"pyck": {"handlers": ["console"], "level": os.environ.get("PYCK_LOG_LEVEL", "WARNING")}},
}
