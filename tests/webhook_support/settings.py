"""Settings for the worker processes of the webhook inbox tests: ``tests.cron_support.settings`` (the live test
database, ``PYCK_CRON_*`` timings), and the inbox's timings from ``PYCK_WEBHOOK_BATCH_SIZE``,
``PYCK_WEBHOOK_CLAIM_DURATION`` and ``PYCK_WEBHOOK_POLL_INTERVAL``."""

import os

from tests.cron_support.settings import *  # noqa: F403
from tests.cron_support.settings import PYCK

PYCK.update(
    {
        "WEBHOOK_BATCH_SIZE": int(os.environ.get("PYCK_WEBHOOK_BATCH_SIZE", "500")),
        "WEBHOOK_CLAIM_DURATION": float(os.environ.get("PYCK_WEBHOOK_CLAIM_DURATION", "300")),
        "WEBHOOK_POLL_INTERVAL": float(os.environ.get("PYCK_WEBHOOK_POLL_INTERVAL", "0.05")),
    }
)
