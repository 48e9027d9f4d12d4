from django.apps import AppConfig


class ConstituenciesConfig(AppConfig):
    name = "example_project.constituencies"
    label = "constituencies"
    default_auto_field = "django.db.models.BigAutoField"
