"""The ``YYYY-MM-DD`` fast path of date fields gives what ``isoparse`` gives, and the same errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from dateutil.parser import isoparse

from pyck.core.exceptions import InvalidResourceError
from pyck.core.records import deserialize


@dataclass
class Dated:
    on: date


@pytest.mark.parametrize(
    "text",
    [
        "2020-02-29", "0001-01-01", "9999-12-31", "1999-12-31",  # valid
        "2021-02-29", "2020-13-01", "0000-01-01", "2020-00-10", "2020-01-0a", "2020-1-011", "20-0-01-01",
        "２０２０-01-01", "2020-01-1 ", "+020-01-01", "2020-01-+1", "2020-01-01T00:00", "2020-W01-1", "20200101",
    ],
)
def test_a_date_string_reads_as_isoparse_reads_it(text):
    try:
        parsed = isoparse(text)
        expected = parsed.date() if parsed.time() == parsed.time().min and parsed.tzinfo is None else None
    except (ValueError, OverflowError):
        expected = None
    if expected is None:
        with pytest.raises(InvalidResourceError) as error:
            deserialize({"on": text}, Dated)
        assert error.value.field == "on" and "expected an ISO 8601 date string" in str(error.value)
    else:
        value = deserialize({"on": text}, Dated).on
        assert type(value) is date and value == expected
