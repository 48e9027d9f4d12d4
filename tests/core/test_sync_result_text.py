"""A `SyncResult` as text: a failed run says what failed, not "0 failed"."""

from __future__ import annotations

from pyck.core.sync import SyncResult
from pyck.core.sync.results import RecordError


def test_a_succeeded_or_partial_result_counts_its_records():
    result = SyncResult("testapp.Team", created=5, failed=1, status="partial", duration=0.5)

    assert str(result) == "Sync of testapp.Team partial: 5 created, 0 updated, 0 unchanged, 0 deleted, 1 failed in 0.50s"


def test_a_failed_result_says_what_failed():
    result = SyncResult("testapp.Team", created=2, status="failed", duration=0.25)
    result.errors.append(RecordError(None, "The listing failed: HTTP 503 from mock.failing"))

    text = str(result)

    assert text == (
        "Sync of testapp.Team failed: The listing failed: HTTP 503 from mock.failing "
        "(before that: 2 created, 0 updated, 0 unchanged, 0 deleted in 0.25s)"
    )
    assert "0 failed" not in text


def test_a_failed_result_with_failed_records_counts_them():
    result = SyncResult("testapp.Team", failed=3, status="failed", duration=1)
    result.errors.append(RecordError(None, "The sync of testapp.Team crashed: RuntimeError('boom')"))

    assert str(result).endswith("(before that: 0 created, 0 updated, 0 unchanged, 0 deleted, 3 records failed in 1.00s)")
