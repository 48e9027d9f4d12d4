# The guide's tutorial models, verbatim (docs/guide/datasources.md, "Handling relationships").
from django.db import models
from pyck.core.datasources import SyncedModel, SyncConfig
from pyck.geo.territories.uk import parliament

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
