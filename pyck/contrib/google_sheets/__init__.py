"""Google Sheets as a datasource: the rows of one sheet range, as typed records.

```python
from pyck.contrib.google_sheets import SheetDatasource, sheet_field
```

`SheetDatasource` reads a range with the Sheets API v4's `spreadsheets.values.get`; `sheet_field("Header")` maps
a dataclass field to a column. Private sheets need `google-auth` (`pip install 'django-pyck[google]'`). The
docs page "Google Sheets" has a complete example.
"""

from .auth import SCOPES, ServiceAccount
from .columns import sheet_field
from .datasources import SheetDatasource, SheetRead, key_text
from .serials import SERIAL_EPOCH, date_from_serial, datetime_from_serial

__all__ = [
    "SCOPES",
    "SERIAL_EPOCH",
    "ServiceAccount",
    "SheetDatasource",
    "SheetRead",
    "date_from_serial",
    "datetime_from_serial",
    "key_text",
    "sheet_field",
]
