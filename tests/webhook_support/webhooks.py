"""The receivers of the tests (found by ``pyck.core.webhooks.registry.autodiscover``): ``helpdesk`` writes the
records its events carry, ``helpdesk-fetch`` always fetches them, ``logged`` says which process read which
change (the tests of several workers)."""

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pyck.core.webhooks import Change, StandardWebhooksReceiver, register_receiver

register_receiver(
    StandardWebhooksReceiver(
        name="helpdesk", secret_setting="HELPDESK_WEBHOOK_SECRET", models=["webhook_support.Team", "webhook_support.Ticket"]
    )
)
register_receiver(
    StandardWebhooksReceiver(
        name="helpdesk-fetch", secret_setting="HELPDESK_WEBHOOK_SECRET", models=["webhook_support.Ticket"], fetch=True
    )
)


class LoggedReceiver(StandardWebhooksReceiver):
    """``helpdesk``'s payload, and a line ``<pid> <ticket id>`` in the file ``PYCK_WEBHOOK_LOG`` names for each
    change it reads; while the file ``PYCK_WEBHOOK_BLOCK`` names exists, it waits (a worker stuck mid-batch)."""

    def parse(self, payload: Any, headers: Mapping[str, str]) -> Sequence[Change]:
        """The changes, logged; see the class docstring."""
        changes = super().parse(payload, headers)
        log = os.environ.get("PYCK_WEBHOOK_LOG")
        if log:
            with open(log, "a") as file:
                file.writelines(f"{os.getpid()} {change.external_id}\n" for change in changes)
        block = os.environ.get("PYCK_WEBHOOK_BLOCK")
        while block and os.path.exists(block):
            time.sleep(0.05)
        return changes


register_receiver(LoggedReceiver(name="logged", secret_setting="HELPDESK_WEBHOOK_SECRET", models=["webhook_support.Ticket"]))
