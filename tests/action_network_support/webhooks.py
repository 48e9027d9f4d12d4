"""The webhook receiver of the docs page "Action Network" (block `an-webhooks`)."""

from pyck.contrib.action_network.webhooks import ActionNetworkReceiver
from pyck.core.webhooks import register_receiver

register_receiver(ActionNetworkReceiver(models={"osdi:donation": "action_network_support.Donation"}))
