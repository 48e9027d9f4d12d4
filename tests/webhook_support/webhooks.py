"""The receivers of the tests (found by ``pyck.core.webhooks.registry.autodiscover``): ``helpdesk`` writes the
records its events carry, ``helpdesk-fetch`` always fetches them."""

from pyck.core.webhooks import StandardWebhooksReceiver, register_receiver

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
