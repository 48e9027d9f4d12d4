"""The benchmark's receiver: Standard Webhooks, the generic payload, ``Item`` only."""

from pyck.core.webhooks import StandardWebhooksReceiver, register_receiver

register_receiver(StandardWebhooksReceiver(name="bench", secret_setting="BENCH_WEBHOOK_SECRET", models=["inboxapp.Item"]))
