"""Spreadsheet serial numbers: the dates and times Google Sheets sends as numbers.

With `valueRenderOption=UNFORMATTED_VALUE` and `dateTimeRenderOption=SERIAL_NUMBER`, a date, time or datetime
cell is a number: "The whole number portion of the value (left of the decimal) counts the days since December
30th 1899. The fractional portion (right of the decimal) counts the time as a fraction of the day. For example,
January 1st 1900 at noon would be 2.5" (https://developers.google.com/sheets/api/reference/rest/v4/DateTimeRenderOption,
and https://developers.google.com/sheets/api/guides/formats: "Sheets treats date and time values as decimal
values", with the same epoch). The number carries no time zone: it is the sheet's wall-clock time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

__all__ = ["SERIAL_EPOCH", "date_from_serial", "datetime_from_serial"]

SERIAL_EPOCH = datetime(1899, 12, 30)
"""Day 0 of the serial numbers (https://developers.google.com/sheets/api/reference/rest/v4/DateTimeRenderOption)."""


def datetime_from_serial(serial: float, tz: tzinfo | None = None) -> datetime:
    """The datetime a serial number stands for, to the millisecond (the finest a Sheets time format shows), in
    `tz` when given (the sheet's time zone: the number itself has none), else naive.

    Raises:
        TypeError: `serial` is not a number.
        ValueError: `serial` is outside the dates Python can hold.
    """
    if isinstance(serial, bool) or not isinstance(serial, (int, float)):
        raise TypeError(f"expected a serial number, got {serial!r}")
    try:
        # Milliseconds: a double's rounding error (under a microsecond for today's dates) must not show.
        moment = SERIAL_EPOCH + timedelta(milliseconds=round(serial * 86_400_000))
    except OverflowError:
        raise ValueError(f"the serial number {serial!r} is outside the dates Python can hold") from None
    return moment.replace(tzinfo=tz) if tz is not None else moment


def date_from_serial(serial: float) -> date:
    """The date a whole serial number stands for (`45292` is 2024-01-01).

    Raises:
        TypeError: `serial` is not a number.
        ValueError: `serial` has a time of day (a date field must not drop it silently), or is out of range.
    """
    moment = datetime_from_serial(serial)
    if moment.time() != datetime.min.time():
        raise ValueError(
            f"the serial number {serial!r} is a date with a time of day ({moment:%Y-%m-%d %H:%M:%S}); "
            "annotate the field as a datetime to keep it"
        )
    return moment.date()
