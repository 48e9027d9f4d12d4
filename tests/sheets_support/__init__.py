"""Test support app for the Google Sheets datasource: the docs page's `Volunteer` model and its datasource."""
