"""The webhook inbox: receive changes pushed by a source, store them durably, apply them off the request path.

A receiver per source (`WebhookReceiver`, or `StandardWebhooksReceiver` for any service signing as the
Standard Webhooks specification says) verifies each request; the view (`pyck.core.webhooks.urls`) stores the
event once (`WebhookEvent`) and answers at once; workers then apply its changes through `apply_records`.
The guide page "The webhook inbox" describes the whole.
"""

from .receivers import Change, Rejected, WebhookReceiver
from .registry import get_receiver, register_receiver, unregister_receiver, webhook_receivers
from .standard import StandardWebhooksReceiver

__all__ = [
    "Change",
    "Rejected",
    "StandardWebhooksReceiver",
    "WebhookReceiver",
    "get_receiver",
    "register_receiver",
    "unregister_receiver",
    "webhook_receivers",
]
