"""Small synced models the engine tests sync into.

The first three are the guide's tutorial models ("Handling relationships"), copied verbatim: do not edit
them. The others exercise what the tutorial does not: many-to-many, inverse relations, self-references,
cycles, ``field_map``, local-only columns and required fields.
"""

from datetime import timedelta

from django.db import models
from pyck.core.datasources import SyncedModel, SyncConfig
from pyck.core.datasources import Incremental
from pyck.geo.territories.uk import parliament

from . import resources

# --- The guide's tutorial models, verbatim ---------------------------------------------------------------

class Constituency(SyncedModel):
    # This is where we specify the datasource, along with other options
    # for customizing how synchronization happens.
    sync_config = SyncConfig(
      datasource=parliament.constituencies,
    )

    # This is used to join data returned from the remote API against
    # our local data.
    external_id = models.IntegerField()

    # This will be populated from the remote data.
    name = models.CharField(max_length=256)

    # This will be populated from the remote data.
    current_mp = models.ForeignKey('MP',
      null=True,
      on_delete=models.SET_NULL)

class MP(SyncedModel):
    # This is where we specify the datasource, along with other options
    # for customizing how synchronization happens.
    sync_config = SyncConfig(
      datasource=parliament.members,
    )

    # This is used to join data returned from the remote API against
    # our local data.
    external_id = models.IntegerField()

    # This will be populated from the remote data.
    name = models.CharField(max_length=256)

    # This will be populated from the remote data.
    thumbnail_url = models.URLField(null=True)

    # This will be populated from the remote data.
    latest_party = models.ForeignKey('Party',
      null=True,
      on_delete=models.SET_NULL)

class Party(SyncedModel):
    # This is where we specify the datasource, along with other options
    # for customizing how synchronization happens.
    sync_config = SyncConfig(
      datasource=parliament.parties,
    )

    # This is used to join data returned from the remote API against
    # our local data.
    external_id = models.IntegerField()

    # This will be populated from the remote data.
    name = models.CharField(max_length=256)

    # This will be populated from the remote data.
    background_colour = models.CharField(max_length=256)


# --- Test models beyond the tutorial ---------------------------------------------------------------------


class Author(SyncedModel):
    sync_config = SyncConfig(datasource=resources.authors, sync_interval=None)
    external_id = models.CharField(max_length=50, db_index=True)
    name = models.CharField(max_length=100)


class Book(SyncedModel):
    """Many-to-many to another synced model."""

    sync_config = SyncConfig(datasource=resources.books)
    external_id = models.CharField(max_length=50, db_index=True)
    title = models.CharField(max_length=100)
    authors = models.ManyToManyField(Author, related_name="books")


class Team(SyncedModel):
    """Inverse relation: the team's resource lists its players."""

    sync_config = SyncConfig(datasource=resources.teams)
    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=100)


class Player(SyncedModel):
    sync_config = SyncConfig(datasource=resources.players, sync_interval=None)
    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=100)
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="players")


class Employee(SyncedModel):
    """Self-reference."""

    sync_config = SyncConfig(datasource=resources.employees)
    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=100)
    manager = models.ForeignKey("self", null=True, on_delete=models.SET_NULL, related_name="reports")


class Country(SyncedModel):
    """A cycle: Country -> City -> Country."""

    sync_config = SyncConfig(datasource=resources.countries)
    external_id = models.CharField(max_length=10, db_index=True)
    name = models.CharField(max_length=100)
    capital = models.ForeignKey("City", null=True, on_delete=models.SET_NULL, related_name="+")


class City(SyncedModel):
    sync_config = SyncConfig(datasource=resources.cities, sync_interval=timedelta(hours=6))
    external_id = models.CharField(max_length=10, db_index=True)
    name = models.CharField(max_length=100)
    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="cities")


class Article(SyncedModel):
    """field_map (renamed and dotted), conversions, required fields and local-only columns."""

    sync_config = SyncConfig(
        datasource=resources.articles,
        field_map={"title": "headline", "author_name": "author.name", "word_count": "words", "extra": None},
    )
    external_id = models.IntegerField(unique=True)
    title = models.CharField(max_length=40)
    author_name = models.CharField(max_length=100, blank=True)
    published = models.DateTimeField(null=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    word_count = models.IntegerField(default=0)
    # Local-only: no counterpart on the resource, never written by a sync.
    notes = models.TextField(blank=True, default="")
    starred = models.BooleanField(default=False)
    # Has a counterpart, excluded by field_map={"extra": None}.
    extra = models.JSONField(default=dict)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(word_count__gte=0), name="article_word_count_gte_0")]


class Membership(SyncedModel):
    """A required foreign key."""

    sync_config = SyncConfig(datasource=resources.memberships)
    external_id = models.IntegerField(db_index=True)
    party = models.ForeignKey(Party, on_delete=models.CASCADE)


class Ticket(SyncedModel):
    """Incremental: only the tickets updated since the last run are listed; a local-only column."""

    sync_config = SyncConfig(
        datasource=resources.tickets,
        incremental=Incremental(field="updated_at", param="updated_since"),
        batch_size=10,
    )
    external_id = models.IntegerField(unique=True)
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    updated_at = models.DateTimeField()
    # Local-only.
    triage_note = models.TextField(blank=True, default="")
