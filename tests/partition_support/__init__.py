"""Support for the partitioned-run tests that start real Django Tasks workers
(``tests/core/test_partitioned_workers.py``).

``settings`` extends ``tests.cron_support.settings`` for those child processes and installs this app, whose
``Item`` model syncs a paged listing, split into page ranges, from the local server of :mod:`.server`
(its URL in ``PYCK_PARTITION_API``).
"""
