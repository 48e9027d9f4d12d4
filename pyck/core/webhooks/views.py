"""The webhook view: verify the request with its source's receiver, store the event with one INSERT, answer.

Nothing else happens in the request (no API call, no write to a synced model): the inbox is processed by
workers (`pyck.core.webhooks.processing`): the `run_cron_tasks` clock, or Django Tasks workers, for which the
view enqueues a task once the event is committed (`WEBHOOK_ENQUEUE`).
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..conf import pyck_settings
from ..exceptions import ConfigurationError
from ..models.webhooks import WebhookEvent
from .polling import enqueues
from .receivers import Rejected
from .refusals import count_refusal
from .registry import get_receiver

__all__ = ["receive_webhook"]

logger = logging.getLogger("pyck.webhooks")

# The longest event id the inbox holds.
_MAX_EVENT_ID = 255


@csrf_exempt
@require_POST
def receive_webhook(request: HttpRequest, source: str) -> HttpResponse:
    """Accept one webhook request for the receiver registered as `source`.

    Answers 404 for an unknown source, 413 for a body over `WEBHOOK_MAX_BODY_SIZE`, 400 or 401 when the
    receiver rejects the request, 400 for a body that is not JSON (none of these is stored), and 200 once
    the event is stored, or was already (a redelivery).
    """
    receiver = get_receiver(source)
    if receiver is None:
        raise Http404(f"No webhook receiver {source!r}.")
    limit = int(pyck_settings.WEBHOOK_MAX_BODY_SIZE)
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        return _refuse(source, 413, f"the body is over {limit} bytes")
    body = request.read(limit + 1)
    if len(body) > limit:
        return _refuse(source, 413, f"the body is over {limit} bytes")
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        event_id = receiver.verify(body, headers)
    except Rejected as rejected:
        count_refusal(source)  # a burst of them (a rotated secret) is an incident for the alerts
        return _refuse(source, rejected.status, str(rejected))
    except ConfigurationError as error:
        logger.error("Webhook %s: %s", source, error)
        return HttpResponse("The webhook receiver is not configured.", status=500, content_type="text/plain")
    if not isinstance(event_id, str) or not event_id or len(event_id) > _MAX_EVENT_ID:
        return _refuse(source, 400, f"the event id must be 1 to {_MAX_EVENT_ID} characters")
    try:
        json.loads(body)
    except ValueError:
        return _refuse(source, 400, "the body is not JSON")
    kept = {name: headers[name] for name in receiver.kept_headers if name in headers}
    # One INSERT, which does nothing when the event is already stored (a redelivery): never an error, never a
    # second row, and an event stored earlier keeps its status (a failed one stays due for its retry).
    WebhookEvent.objects.bulk_create(
        [WebhookEvent(source=source, event_id=event_id, body=receiver.stored_body(body), headers=kept)],
        ignore_conflicts=True,
    )
    if enqueues():
        transaction.on_commit(_enqueue_processing)
    return HttpResponse(status=200)


def _refuse(source: str, status: int, reason: str) -> HttpResponse:
    logger.warning("Webhook %s refused (%s): %s", source, status, reason)
    return HttpResponse(reason, status=status, content_type="text/plain")



def _enqueue_processing() -> None:
    # Not at the top: the Tasks framework is optional, and needed only when events are processed by its workers.
    from .tasks import enqueue_processing

    try:
        enqueue_processing()
    except Exception:
        # The event is stored: the task the next event enqueues, or a retry, processes it.
        logger.exception("Could not enqueue the processing of the webhook inbox; the next task will process it.")
