"""`AbstractTagging`: the through model of `Person.tags`, synced from `/tags/{tag_id}/taggings`.

Action Network has no list of a person's tags: each tag lists its taggings, one per tagged person
(https://actionnetwork.org/docs/v2/taggings; "Taggings are deduplicated based on person, so any two taggings in a
tag will never link to the same person"). Subclass `AbstractTagging` once, in the app that holds your `Person`
and `Tag` models, and relate them through it:

```python
from pyck.contrib.action_network.models import AbstractTagging

class Person(SyncedModel):
    ...
    tags = models.ManyToManyField(Tag, through="Tagging", related_name="people")

class Tagging(AbstractTagging):
    pass
```

`Tagging` is then a synced model like any other: each run lists every tag's taggings (`for_each`), creates the
links that appeared and deletes the ones that are gone (`OnDelete.DELETE`, decided per tag: a tag whose listing
failed keeps its links). A person or a tag deleted takes its links with it (`CASCADE`). Import this module
from your `models.py` only (it defines a model class).
"""

from __future__ import annotations

from django.db import models

from pyck.core.datasources import ForEach, OnDelete, SyncConfig, SyncedModel

from .datasources import Taggings

__all__ = ["AbstractTagging"]


class AbstractTagging(SyncedModel):
    """A person having a tag: a tagging of `/tags/{tag_id}/taggings`, synced per tag.

    Its foreign keys name the models `"Tag"` and `"Person"` of the subclass's own app; redeclare `tag` or `person`
    in the subclass to point elsewhere. Its `sync_config` lists the taggings with a `Taggings` datasource (the key
    from `ACTION_NETWORK_API_KEY`); assign your own `sync_config` in the subclass to change it.
    """

    sync_config = SyncConfig(
        datasource=Taggings(), for_each=ForEach("tag", param="tag_id"), on_delete=OnDelete.DELETE
    )
    external_id = models.CharField(max_length=100, unique=True)
    """The tagging's `action_network:` id."""
    tag = models.ForeignKey("Tag", on_delete=models.CASCADE, related_name="taggings")
    """The tag, from the listing the tagging was read under."""
    person = models.ForeignKey("Person", on_delete=models.CASCADE, related_name="taggings")
    """The tagged person, from the tagging's `osdi:person` link."""

    class Meta:
        abstract = True
