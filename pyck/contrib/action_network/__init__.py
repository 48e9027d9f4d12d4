"""Action Network as datasources: its API v2 (OSDI over HAL), one datasource class per resource.

```python
from pyck.contrib.action_network import People, Tags, Taggings
```

The key comes from the `ACTION_NETWORK_API_KEY` setting. Ids come from the `action_network:` identifier and
references from link hrefs, with no code of yours. Three modules are imported on their own:
`pyck.contrib.action_network.models` (`AbstractTagging`, the through model of `Person.tags`; from your
`models.py` only), `pyck.contrib.action_network.incremental` (`modified_since()`) and
`pyck.contrib.action_network.webhooks` (the receiver and its view). The docs page "Action Network" has a
complete example.
"""

from .datasources import (
    ActionNetworkDatasource,
    Attendances,
    Donations,
    Events,
    Forms,
    People,
    Petitions,
    Signatures,
    Submissions,
    Taggings,
    Tags,
)
from .links import PREFIX, action_network_id, id_from_href, link_id
from .resources import (
    Attendance,
    Donation,
    EmailAddress,
    Event,
    EventLocation,
    Form,
    Person,
    Petition,
    PhoneNumber,
    PostalAddress,
    Recipient,
    Resource,
    Signature,
    Submission,
    Tag,
    Tagging,
)

__all__ = [
    "PREFIX",
    "ActionNetworkDatasource",
    "Attendance",
    "Attendances",
    "Donation",
    "Donations",
    "EmailAddress",
    "Event",
    "EventLocation",
    "Events",
    "Form",
    "Forms",
    "People",
    "Person",
    "Petition",
    "Petitions",
    "PhoneNumber",
    "PostalAddress",
    "Recipient",
    "Resource",
    "Signature",
    "Signatures",
    "Submission",
    "Submissions",
    "Tag",
    "Tagging",
    "Taggings",
    "Tags",
    "action_network_id",
    "id_from_href",
    "link_id",
]
