"""The tutorial models in the admin: synced fields read-only, and a "Sync now" action on each list."""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pyck.core.admin import SyncedModelAdmin

from .models import MP, Constituency, Party


@admin.register(Constituency)
class ConstituencyAdmin(SyncedModelAdmin):
    """Constituencies with their current MP."""

    list_display = ["name", "current_mp__name"]
    list_select_related = ["current_mp"]
    search_fields = ["name", "current_mp__name"]
    ordering = ["name"]


@admin.register(MP)
class MPAdmin(SyncedModelAdmin):
    """MPs with their party."""

    list_display = ["name", "latest_party__name"]
    list_select_related = ["latest_party"]
    list_filter = ["latest_party"]
    search_fields = ["name"]
    ordering = ["name"]


@admin.register(Party)
class PartyAdmin(SyncedModelAdmin):
    """Parties with their colour."""

    list_display = ["name", "colour"]
    search_fields = ["name"]
    ordering = ["name"]

    @admin.display(description="colour", ordering="background_colour")
    def colour(self, party: Party) -> SafeString:
        """A swatch of the party's colour, then its hex code."""
        if not party.background_colour:
            return format_html("{}", "-")
        return format_html(
            '<span style="display:inline-block;width:.9em;height:.9em;border-radius:50%;vertical-align:middle;'
            'border:1px solid #0003;background:#{}"></span> {}',
            party.background_colour,
            party.background_colour,
        )
