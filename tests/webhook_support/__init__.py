"""Models, datasources and receivers for the webhook inbox tests (``tests/core/test_webhook_*.py``)."""
