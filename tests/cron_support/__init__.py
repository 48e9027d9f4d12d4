"""Support for the cron tests that start real ``run_cron_tasks`` and Tasks worker processes.

``settings`` extends ``tests.settings`` for those child processes: it points them at the test database the
parent created (``PYCK_TEST_DB_NAME``), installs this app (whose ``cron`` module registers the tasks the tests
drive, configured through ``PYCK_CRON_*`` environment variables) and, with ``PYCK_CRON_TASKS_BACKEND=db``, the
Django Tasks database backend.
"""
