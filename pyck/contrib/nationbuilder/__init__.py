"""NationBuilder's API v2 (JSON:API) as datasources: people (signups), tags, donations and events.

```python
from pyck.contrib.nationbuilder import Donations, Events, SignupTags, Signups
```

Set `NATIONBUILDER_SLUG` and the token settings; the docs page "NationBuilder" has a complete example.
"""

from .auth import TOKEN_URL, TokenStore
from .datasources import (
    INCREMENTAL_PARAM,
    Donations,
    Events,
    NationBuilderDatasource,
    SignupTags,
    Signups,
)
from .jsonapi import JsonApiPaginator, flatten, linkage_ids, resource_id
from .resources import Donation, Event, Signup, SignupTag

__all__ = [
    "INCREMENTAL_PARAM",
    "Donation",
    "Donations",
    "Event",
    "Events",
    "JsonApiPaginator",
    "NationBuilderDatasource",
    "Signup",
    "SignupTag",
    "SignupTags",
    "Signups",
    "TOKEN_URL",
    "TokenStore",
    "flatten",
    "linkage_ids",
    "resource_id",
]
