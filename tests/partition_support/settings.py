"""Settings for the worker and clock processes of the partitioned-run tests.

``tests.cron_support.settings`` (the live test database, ``PYCK_CRON_*`` timings, ``PYCK_CRON_TASKS_BACKEND``),
plus this app.
"""

from tests.cron_support.settings import *  # noqa: F403
from tests.cron_support.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.partition_support"]
