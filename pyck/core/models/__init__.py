"""pyck's models: the abstract `SyncedModel`, the `SyncRun` history, the per-model
`SyncState`, the cron task state, the `PartitionedRun` of partitions run by many workers, and the
`WebhookEvent` inbox, the `HealthIncident` rows of the alerts; `registry`, the
registry of the concrete synced models; and `leases`, the leases on cron task rows (who runs a task, or syncs
a model, now).

One module per concern; Django finds them all through this package.
"""

from .cron import *  # noqa: F401,F403
from .incidents import *  # noqa: F401,F403
from .partitioned import *  # noqa: F401,F403
from .runs import *  # noqa: F401,F403
from .state import *  # noqa: F401,F403
from .synced import *  # noqa: F401,F403
from .webhooks import *  # noqa: F401,F403

# Connects the class_prepared receiver that registers every concrete SyncedModel subclass (before any can be
# defined: defining one imports this package first).
from . import registry  # noqa: F401
