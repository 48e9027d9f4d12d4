"""App configuration of the benchmark's models."""

from django.apps import AppConfig


class BenchappConfig(AppConfig):
    """The benchmark app; its label ``pyck_bench`` keeps its tables apart from any user app."""

    name = "benchmarks.benchapp"
    label = "pyck_bench"
    default_auto_field = "django.db.models.BigAutoField"
