"""pyck's models: the abstract :class:`SyncedModel`, the :class:`SyncRun` history, the per-model
:class:`SyncState`, the cron task state, and the :class:`PartitionedRun` of partitions run by many workers.

One module per concern; Django finds them all through this package.
"""

from .cron import *  # noqa: F401,F403
from .partitioned import *  # noqa: F401,F403
from .runs import *  # noqa: F401,F403
from .state import *  # noqa: F401,F403
from .synced import *  # noqa: F401,F403
