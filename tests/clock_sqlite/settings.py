"""Settings for the child processes of the SQLite clock tests (`DJANGO_SETTINGS_MODULE=tests.clock_sqlite.settings`).

The database is the SQLite file named in `PYCK_SQLITE_FILE`, whatever the suite runs on, opened as
`docs/deployment.md` advises for several processes when `PYCK_SQLITE_IMMEDIATE` is set; `PYCK_CRON_LEASE` sets
the lease (the heartbeat renews it every third of it).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["PYCK_SQLITE_FILE"]}}
if os.environ.get("PYCK_SQLITE_IMMEDIATE"):
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}

INSTALLED_APPS = [*INSTALLED_APPS, "tests.clock_sqlite"]

PYCK = {"CRON_TICK": 0.05, "CRON_LEASE_DURATION": float(os.environ.get("PYCK_CRON_LEASE", "300"))}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"pyck": {"level": "INFO", "handlers": ["stderr"]}, "pyck.cron.leases": {"level": "DEBUG"}},
}
