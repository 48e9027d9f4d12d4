"""A `spreadsheets.values.get` answer, read as a header row and numbered rows: `SheetValues`.

The answer is a ValueRange (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values#ValueRange):
`range` is "the entire requested range" in A1 notation ("Volunteers!A1:Z1000"), even though `values` "will
exclude trailing rows and columns"; `values` is a list of rows (with `majorDimension=ROWS`, each inner list is a
row: https://developers.google.com/sheets/api/reference/rest/v4/Dimension), each row a list of cells, and is
absent when the range holds nothing. So the first row of `values` is the first row of `range`, row `n` of the
sheet is `values[n - first]`, and a row may be shorter than the header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NotAValueRange", "SheetValues", "first_row_of", "is_blank"]


class NotAValueRange(Exception):
    """An answer that is not a ValueRange as documented; the message says what is wrong with it."""

# The first cell of an A1 range ("A1", "B17", "$A$3") after the sheet name; "A:Z" (whole columns) starts at row 1.
_FIRST_ROW = re.compile(r"^\$?[A-Za-z]*\$?(\d+)")


def first_row_of(a1_range: str) -> int:
    """The sheet row number a range in A1 notation starts at: `"Volunteers!A3:Z"` -> 3, `"'Q1!'!A:Z"` -> 1.

    https://developers.google.com/sheets/api/guides/concepts#cell: `Sheet1!A1:B2`, `Sheet1!A:A` (all the rows),
    a name with spaces or special characters quoted (`'My Custom Sheet'!A:A`).
    """
    cells = a1_range.rsplit("!", 1)[-1] if "!" in a1_range else a1_range
    match = _FIRST_ROW.match(cells.split(":", 1)[0].strip())
    return int(match.group(1)) if match else 1


@dataclass(frozen=True)
class SheetValues:
    """The rows of one `values.get` answer: the header (the first row) and the rows under it."""

    range: str
    """The range the answer covers, in A1 notation (as the API gives it)."""
    header: tuple[str, ...]
    """The header row's cells as text, without the spaces around them (`""` for an empty one)."""
    rows: tuple[list[Any], ...]
    """The rows under the header, as the API sent them (trailing empty cells left out)."""
    first_row: int
    """The sheet row number of the header."""

    @classmethod
    def parse(cls, body: Any) -> SheetValues:
        """Read a ValueRange.

        Raises:
            NotAValueRange: the answer is not shaped as documented (the caller names the datasource and URL).
        """
        if not isinstance(body, Mapping):
            raise NotAValueRange(f"expected a ValueRange object, got {type(body).__name__}")
        values = body.get("values", [])
        if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
            raise NotAValueRange("its 'values' is not a list of rows (lists of cells)")
        dimension = body.get("majorDimension", "ROWS")
        if dimension != "ROWS":
            raise NotAValueRange(f"its majorDimension is {dimension!r}, not 'ROWS'")
        a1_range = body.get("range", "")
        if not isinstance(a1_range, str):
            raise NotAValueRange("its 'range' is not a string")
        if not values:
            raise NotAValueRange(
                f"the range {a1_range or '(unnamed)'} is empty: it has no header row (a sheet read by pyck starts "
                "with a row of column headers)"
            )
        header = tuple("" if cell is None else str(cell).strip() for cell in values[0])
        return cls(range=a1_range, header=header, rows=tuple(values[1:]), first_row=first_row_of(a1_range))

    def numbered(self) -> Iterator[tuple[int, list[Any]]]:
        """`(sheet row number, cells)` for each row under the header."""
        return enumerate(self.rows, start=self.first_row + 1)

    def columns(self) -> dict[str, int]:
        """Each header's column index (the first, if two columns have the same header); empty headers left out."""
        found: dict[str, int] = {}
        for index, text in enumerate(self.header):
            if text and text not in found:
                found[text] = index
        return found

    def repeated(self) -> set[str]:
        """The headers of more than one column."""
        seen: set[str] = set()
        repeated: set[str] = set()
        for text in self.header:
            if text in seen:
                repeated.add(text)
            seen.add(text)
        repeated.discard("")
        return repeated


def is_blank(cells: list[Any]) -> bool:
    """Whether a row has nothing in it (every cell empty, or none sent)."""
    return all(cell in ("", None) for cell in cells)
