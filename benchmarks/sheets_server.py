"""A local Google Sheets API v4 (`spreadsheets.values.get`) and OAuth token endpoint on 127.0.0.1, for the tests
and `benchmarks/bench_sheets.py`. Built from Google's public documentation; each behaviour cites its page.

- `GET /v4/spreadsheets/{spreadsheetId}/values/{range}` answers a ValueRange
  (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get): `range` is the whole
  range asked for, in A1 notation ("For output, this range indicates the entire requested range, even though
  the values will exclude trailing rows and columns"), and `values` leaves trailing empty cells and rows out
  ("For output, empty trailing rows and columns will not be included"; absent when nothing is left;
  https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values#ValueRange). An empty cell
  before a non-empty one is `""`.
- `valueRenderOption`: `FORMATTED_VALUE` (the default) renders every value as text; `UNFORMATTED_VALUE` sends
  numbers and booleans as JSON numbers and booleans
  (https://developers.google.com/sheets/api/reference/rest/v4/ValueRenderOption). `dateTimeRenderOption`
  (ignored with FORMATTED_VALUE; default SERIAL_NUMBER): a date or datetime cell is its serial number, days
  since 1899-12-30 with the time as the fraction, or with FORMATTED_STRING its text
  (https://developers.google.com/sheets/api/reference/rest/v4/DateTimeRenderOption). `majorDimension`: ROWS
  (the default) only (https://developers.google.com/sheets/api/reference/rest/v4/Dimension).
- A range is `Sheet!A1:B2`, `Sheet!A:Z` (every row), `Sheet!A3:Z` (from row 3), or a sheet's name alone
  (https://developers.google.com/sheets/api/guides/concepts#cell); a name with spaces is quoted
  (`'My Sheet'!A:Z`).
- Errors are `{"error": {"code", "message", "status"}}` (https://cloud.google.com/apis/design/errors#http_mapping):
  404 NOT_FOUND for an unknown spreadsheet, 400 INVALID_ARGUMENT for a range naming no sheet or an API key
  not accepted, 403 PERMISSION_DENIED for a private sheet read with an API key, 401 UNAUTHENTICATED for a
  bearer token that is unknown or expired.
- API keys come as the `key` query parameter (https://cloud.google.com/docs/authentication/api-keys-use);
  they read public sheets only (API keys "are often used for accessing public data",
  https://cloud.google.com/docs/authentication/api-keys).
- `POST /token` is a service account's token endpoint
  (https://developers.google.com/identity/protocols/oauth2/service-account#httprest): it takes
  `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and `assertion`, a JWT signed RS256 with the
  account's private key whose `iss` is the account's email, `scope` the scopes asked for, `aud` the token URI,
  `iat`/`exp` at most an hour apart; it answers `{"access_token", "expires_in", "token_type": "Bearer"}`.
  This server checks the signature with the account's public key.

From Python::

    with SheetsServer() as server:
        server.add_sheet("sheet-id", "Volunteers", [["Email", "Name"], ["a@example.org", "Ann"]])
        server.api_keys.add("test-key")
        server.requests_to("values")  # the values.get requests received
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["Received", "Sheet", "SheetsServer", "column_letters"]

SERIAL_EPOCH = datetime(1899, 12, 30)
# The JWT's `aud`: "When making an access token request this value is always https://oauth2.googleapis.com/token"
# (https://developers.google.com/identity/protocols/oauth2/service-account#httprest), whatever the token URI.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_RANGE = re.compile(r"^\$?(?P<col>[A-Za-z]*)\$?(?P<row>\d*)$")


def column_letters(index: int) -> str:
    """The letters of a 1-based column index: 1 -> "A", 27 -> "AA"."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index


@dataclass
class Sheet:
    """One sheet (tab) of a spreadsheet: its rows of cells (`None` or `""` for an empty cell) and grid size."""

    rows: list[list[Any]]
    grid_rows: int = 1000
    grid_columns: int = 26
    public: bool = True


@dataclass
class Received:
    """One request as the server saw it."""

    endpoint: str
    """`"values"` or `"token"` (or `"other"`)."""
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Account:
    email: str
    public_key: Any
    expires_in: int


@dataclass
class _State:
    spreadsheets: dict[str, dict[str, Sheet]] = field(default_factory=dict)
    api_keys: set[str] = field(default_factory=set)
    accounts: dict[str, _Account] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, keep-alive requests stall ~40 ms each.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        segments = parts.path.split("/")
        query = parse_qs(parts.query, keep_blank_values=True)
        state = self.server.state
        if method == "POST" and parts.path == "/token":
            endpoint = "token"
        elif method == "GET" and len(segments) == 6 and segments[1:3] == ["v4", "spreadsheets"] and segments[4] == "values":
            endpoint = "values"
        else:
            endpoint = "other"
        received = Received(endpoint, parts.path, query, dict(self.headers.items()))
        with state.lock:
            state.received.append(received)
        if endpoint == "token":
            status, answer = _token(state, parse_qs(body.decode("ascii", "replace")))
        elif endpoint == "values":
            status, answer = _values(state, unquote(segments[3]), unquote(segments[5]), query, self.headers)
        else:
            status, answer = _error(404, "NOT_FOUND", "Requested entity was not found.")
        received.status = status
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State
    url: str


def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": status}}


def _values(state: _State, spreadsheet_id: str, a1: str, query: dict[str, list[str]], headers: Any) -> tuple[int, Any]:
    sheets = state.spreadsheets.get(spreadsheet_id)
    if sheets is None:
        return _error(404, "NOT_FOUND", "Requested entity was not found.")
    key = (query.get("key") or [None])[0]
    authorization = headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        expires = state.tokens.get(authorization[7:])
        if expires is None or expires <= time.time():
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        private_ok = True
    elif key is not None:
        if key not in state.api_keys:
            return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        private_ok = False
    else:
        return _error(403, "PERMISSION_DENIED", "The request is missing a valid API key.")
    name, cells = (a1.rsplit("!", 1) if "!" in a1 else (a1, ""))
    if name.startswith("'") and name.endswith("'"):
        name = name[1:-1].replace("''", "'")
    sheet = sheets.get(name)
    if sheet is None:
        return _error(400, "INVALID_ARGUMENT", f"Unable to parse range: {a1}")
    if not sheet.public and not private_ok:
        return _error(403, "PERMISSION_DENIED", "The caller does not have permission")
    bounds = _bounds(cells, sheet)
    if bounds is None:
        return _error(400, "INVALID_ARGUMENT", f"Unable to parse range: {a1}")
    row0, col0, row1, col1 = bounds
    dimension = (query.get("majorDimension") or ["ROWS"])[0]
    if dimension != "ROWS":
        return _error(400, "INVALID_ARGUMENT", "this replay server serves majorDimension=ROWS only")
    render = (query.get("valueRenderOption") or ["FORMATTED_VALUE"])[0]
    dates = (query.get("dateTimeRenderOption") or ["SERIAL_NUMBER"])[0]
    values: list[list[Any]] = []
    for row in sheet.rows[row0 - 1 : row1]:
        cells_out = [_render(cell, render, dates) for cell in row[col0 - 1 : col1]]
        while cells_out and cells_out[-1] == "":
            cells_out.pop()
        values.append(cells_out)
    while values and not values[-1]:
        values.pop()
    shown = f"'{name}'" if not re.fullmatch(r"\w+", name) else name
    answer: dict[str, Any] = {
        "range": f"{shown}!{column_letters(col0)}{row0}:{column_letters(col1)}{row1}",
        "majorDimension": "ROWS",
    }
    if values:
        answer["values"] = values
    return 200, answer


def _bounds(cells: str, sheet: Sheet) -> tuple[int, int, int, int] | None:
    """`(first row, first column, last row, last column)`, 1-based and inclusive, of `cells` on `sheet`."""
    if not cells:
        return 1, 1, sheet.grid_rows, sheet.grid_columns
    start, _, end = cells.partition(":")
    first, last = _RANGE.match(start), _RANGE.match(end or start)
    if first is None or last is None:
        return None
    row0 = int(first["row"] or 1)
    col0 = _column_index(first["col"]) if first["col"] else 1
    row1 = int(last["row"]) if last["row"] else sheet.grid_rows
    col1 = _column_index(last["col"]) if last["col"] else sheet.grid_columns
    return row0, col0, min(row1, sheet.grid_rows), min(col1, sheet.grid_columns)


def _render(cell: Any, render: str, dates: str) -> Any:
    if cell is None or cell == "":
        return ""
    if isinstance(cell, (date, datetime)):
        moment = cell if isinstance(cell, datetime) else datetime(cell.year, cell.month, cell.day)
        serial = (moment.replace(tzinfo=None) - SERIAL_EPOCH) / timedelta(days=1)
        if render == "FORMATTED_VALUE" or dates == "FORMATTED_STRING":
            return cell.isoformat(" ") if isinstance(cell, datetime) else cell.isoformat()
        return int(serial) if serial.is_integer() else serial
    if render == "FORMATTED_VALUE":
        return ("TRUE" if cell else "FALSE") if isinstance(cell, bool) else str(cell)
    return cell


def _token(state: _State, form: dict[str, list[str]]) -> tuple[int, Any]:
    if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or not form.get("assertion"):
        return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
    claims = _verified_claims(state, form["assertion"][0])
    if claims is None:
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    if claims.get("aud") != TOKEN_AUDIENCE or "spreadsheets" not in str(claims.get("scope", "")):
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: aud or scope."}
    if not isinstance(claims.get("exp"), int) or not isinstance(claims.get("iat"), int) or claims["exp"] - claims["iat"] > 3600:
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token."}
    account = state.accounts[claims["iss"]]
    token = f"ya29.{secrets.token_urlsafe(24)}"
    with state.lock:
        state.tokens[token] = time.time() + account.expires_in
    return 200, {"access_token": token, "expires_in": account.expires_in, "token_type": "Bearer"}


def _verified_claims(state: _State, assertion: str) -> dict[str, Any] | None:
    # Imported here: only the token endpoint needs cryptography (installed with google-auth).
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        header = json.loads(_unb64(header_b64))
        claims = json.loads(_unb64(claims_b64))
        account = state.accounts.get(claims.get("iss"))
        if header.get("alg") != "RS256" or account is None:
            return None
        account.public_key.verify(
            _unb64(signature_b64), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (ValueError, InvalidSignature, AttributeError):
        return None
    return claims


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SheetsServer:
    """The local Sheets API and token endpoint, serving on a free port of 127.0.0.1 until `close()`."""

    def __init__(self) -> None:
        self.state = _State()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._server.url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, name="sheets-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`; the datasource's `base_url` is this plus `/v4`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_keys(self) -> set[str]:
        """The API keys accepted."""
        return self.state.api_keys

    def add_sheet(self, spreadsheet_id: str, name: str, rows: list[list[Any]], **options: Any) -> Sheet:
        """Add (or replace) the sheet `name` of the spreadsheet `spreadsheet_id`; `options` are `Sheet`'s."""
        sheet = Sheet(rows=rows, **options)
        sheet.grid_rows = max(sheet.grid_rows, len(rows))
        self.state.spreadsheets.setdefault(spreadsheet_id, {})[name] = sheet
        return sheet

    def service_account_key(self, email: str = "sync@pyck-test.iam.gserviceaccount.com", *, expires_in: int = 3600) -> dict[str, Any]:
        """A new service account this server's token endpoint knows: its JSON key, as Google's key files are
        (`type`, `client_email`, `private_key`, `token_uri`...), with a fresh RSA key made here; its tokens
        last `expires_in` seconds."""
        # Imported here: only service-account tests need cryptography (installed with google-auth).
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.state.accounts[email] = _Account(email, private.public_key(), expires_in)
        return {
            "type": "service_account",
            "project_id": "pyck-test",
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": f"{self.url}/token",
        }

    def requests_to(self, endpoint: str) -> list[Received]:
        """The requests received at `endpoint` (`"values"` or `"token"`), in order."""
        with self.state.lock:
            return [r for r in self.state.received if r.endpoint == endpoint]

    def reset_counts(self) -> None:
        """Forget the requests received so far."""
        with self.state.lock:
            self.state.received.clear()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SheetsServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
