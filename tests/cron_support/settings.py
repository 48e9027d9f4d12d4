"""Settings for child processes started by the cron tests (``--settings=tests.cron_support.settings``).

The parent test passes the live test database's name in ``PYCK_TEST_DB_NAME`` (pytest-django creates
``test_<name>``); ``PYCK_CRON_TICK`` and ``PYCK_CRON_LEASE`` shorten the clock's timings;
``PYCK_CRON_TASKS_BACKEND=db`` installs the Django Tasks database backend (``django-tasks-db``), ``=rq`` the
RQ backend (``django-tasks-rq``) on the Redis at 127.0.0.1:6379, queue ``PYCK_CRON_RQ_QUEUE``.
"""

import os

import django

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS

DATABASES["default"]["NAME"] = os.environ["PYCK_TEST_DB_NAME"]
DATABASES["default"]["TEST"] = {"NAME": os.environ["PYCK_TEST_DB_NAME"]}

INSTALLED_APPS = [*INSTALLED_APPS, "tests.cron_support"]

PYCK = {
    "CRON_TICK": float(os.environ.get("PYCK_CRON_TICK", "0.1")),
    "CRON_LEASE_DURATION": float(os.environ.get("PYCK_CRON_LEASE", "30")),
}

if os.environ.get("PYCK_CRON_TASKS_BACKEND") == "db":
    if django.VERSION < (6, 0):
        INSTALLED_APPS.append("django_tasks")
    INSTALLED_APPS.append("django_tasks_db")
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
elif os.environ.get("PYCK_CRON_TASKS_BACKEND") == "rq":
    # Redis on 127.0.0.1:6379; a queue of our own, in a database number other projects rarely use.
    if django.VERSION < (6, 0):
        INSTALLED_APPS.append("django_tasks")
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUE = os.environ.get("PYCK_CRON_RQ_QUEUE", "pyck-cron-tests")
    RQ_QUEUES = {RQ_QUEUE: {"HOST": "127.0.0.1", "PORT": 6379, "DB": 13}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [RQ_QUEUE]}}
    PYCK["CRON_TASKS_QUEUE"] = RQ_QUEUE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"pyck": {"level": "INFO", "handlers": ["stderr"]}},
}
