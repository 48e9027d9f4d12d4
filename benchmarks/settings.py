"""Django settings for the sync benchmark (``benchmarks.bench_sync`` sets ``DJANGO_SETTINGS_MODULE`` to this).

The database comes from ``PYCK_BENCH_DATABASE_URL``, which the harness sets for each run: a SQLite file under
``benchmarks/out/`` by default, or a PostgreSQL database (``postgres://postgres@127.0.0.1:5432/pyck_bench``).
A separate variable from ``DATABASE_URL`` so that ``--database sqlite`` stays SQLite whatever the shell exports.
"""

import os
from pathlib import Path

import dj_database_url

OUT_DIR = Path(__file__).resolve().parent / "out"

SECRET_KEY = "pyck-benchmark-not-secret"
DEBUG = False  # DEBUG=True would keep every query in connection.queries and inflate peak memory.
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "pyck.core",
    "benchmarks.benchapp",
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("PYCK_BENCH_DATABASE_URL") or f"sqlite:///{OUT_DIR / 'bench.sqlite3'}"
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The benchmark's own API server is fast and local: no reason to wait long for it.
PYCK = {"HTTP_TIMEOUT": 30.0, "HTTP_RETRIES": 0}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"pyck": {"level": "WARNING"}},
}
