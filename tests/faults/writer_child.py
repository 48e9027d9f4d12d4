"""A process syncing ``testapp.Party`` with ``Party.sync()``, for ``test_one_writer.py``.

Run as ``python -m tests.faults.writer_child <base_url> [<wait seconds>]`` with the environment of
:func:`tests.cron_support.helpers.child_env`; ``Party`` reads ``<base_url>/parties`` (see
``tests/cron_support/remote.py``). Prints ``STARTED <pid>``, then ``RESULT <json>`` when the sync ends, or
``REFUSED <error type>: <message>`` (exit status 3) when it raised a pyck error instead of syncing.
"""

from __future__ import annotations

import json
import os
import sys

import django


def main(base_url: str, wait: float | None) -> None:
    """Point ``Party`` at the server and sync it once."""
    django.setup()
    from pyck.core.exceptions import PyckError
    from tests.cron_support.remote import point_party_at
    from tests.testapp.models import Party

    point_party_at(base_url)
    print(f"STARTED {os.getpid()}", flush=True)
    try:
        result = Party.sync(**({"wait": wait} if wait is not None else {}))
    except PyckError as error:
        print(f"REFUSED {type(error).__name__}: {error}", flush=True)
        sys.exit(3)
    print("RESULT " + json.dumps({"status": result.status, "created": result.created, "unchanged": result.unchanged}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else None)
