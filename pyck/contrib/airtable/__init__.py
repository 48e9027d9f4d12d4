"""Airtable: sync the tables of an Airtable base into Django models.

```python
from pyck.contrib.airtable.datasources import AirtableDatasource, airtable_field
```

- `pyck.contrib.airtable.datasources`: `AirtableDatasource`, one table of a base, and `airtable_field`, which
  maps a resource field onto a column; compatible with `groundwork.contrib.airtable.datasources`, so code
  written for that module works after changing the import.
- `pyck.contrib.airtable.fields`: how an Airtable record becomes the dict a resource is read from (omitted empty
  cells, linked records, field ids).
- `pyck.contrib.airtable.webhooks`: `AirtableWebhookReceiver`, Airtable's webhooks through pyck's webhook inbox,
  and `refresh_webhooks`, the cron task that keeps them alive.
- `pyck.contrib.airtable.replay`: a local server that answers like Airtable's Web API (paging, rate limit,
  expiring offsets, webhooks), for tests, demonstrations and benchmarks.

It is a plain package, not a Django app: nothing to add to `INSTALLED_APPS`.
"""
