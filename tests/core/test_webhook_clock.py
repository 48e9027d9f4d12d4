"""The run_cron_tasks clock processes the webhook inbox between its ticks (issue 20 item 3)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, override_settings

from pyck.core.cron.clock import Clock
from pyck.core.models import WebhookEvent
from pyck.core.webhooks.polling import enqueues, inbox_poller
from tests.webhook_support.signing import payload, sign, ticket

pytestmark = pytest.mark.django_db


def test_between_ticks_is_called_again_at_once_while_it_has_more_work_and_its_errors_do_not_stop_the_clock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    answers = iter([True, True, "boom", False, "stop"])

    def work() -> bool:
        answer = next(answers)
        calls.append(str(answer))
        if answer == "boom":
            raise RuntimeError("boom")
        if answer == "stop":
            clock.stop()
            return False
        return bool(answer)

    # A tick of an hour: everything happens between the first two ticks.
    clock = Clock([], tick=3600, between_ticks=work, poll=0.01)
    with caplog.at_level(logging.ERROR, logger="pyck.cron"):
        clock.run_forever()
    assert calls == ["True", "True", "boom", "False", "stop"]
    assert "Work between ticks failed" in caplog.text


def test_the_clock_applies_events_between_its_ticks(client: Client) -> None:
    body = payload(ticket(1))
    client.post("/webhooks/helpdesk/", data=body, content_type="application/json", headers=sign("evt_1", body))
    work, interval = inbox_poller(enqueue=False, tick=30)
    assert interval == 0.5

    def poll() -> bool:
        more = work()
        if WebhookEvent.objects.filter(status="applied").exists():
            clock.stop()
        return more

    clock = Clock([], tick=3600, between_ticks=poll, poll=0.01)
    clock.run_forever()
    assert list(WebhookEvent.objects.values_list("status", flat=True)) == ["applied"]


def test_the_poller_follows_the_settings() -> None:
    assert not enqueues()
    assert enqueues(True) and not enqueues(False)  # a clock started with or without --enqueue
    with override_settings(PYCK={"WEBHOOK_ENQUEUE": False}):
        assert not enqueues(True)
    with override_settings(PYCK={"CRON_ENQUEUE": True}):
        assert enqueues()
        with override_settings(PYCK={"CRON_ENQUEUE": True, "WEBHOOK_ENQUEUE": False}):
            assert not enqueues()
    _, interval = inbox_poller(enqueue=True, tick=30)
    assert interval == 30


def test_no_receiver_no_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyck.core.webhooks.polling.webhook_receivers", lambda: [])
    assert inbox_poller(enqueue=False, tick=30) is None
