"""Models synced from two tables of one Airtable base (`pyck.contrib.airtable`), for its end-to-end tests."""
