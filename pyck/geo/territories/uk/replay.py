"""A local server that replays recorded responses of the UK Parliament Members API and postcodes.io.

It lets the tutorial's sync run, and be tested, on a machine with no internet access. Start it with:

```shell
python -m pyck.geo.territories.uk.replay --port 8765
```

and point pyck at it:

```python
PYCK = {
    "UK_PARLIAMENT_BASE_URL": "http://127.0.0.1:8765/api",
    "UK_POSTCODES_BASE_URL": "http://127.0.0.1:8765",
}
```

It listens on the loopback interface only and refuses any other address. In tests, run it in a thread:

```python
with ReplayServer() as server:          # port 0: the system picks a free port
    settings.PYCK = server.pyck_settings()
    ...
```

**What it serves.** Real response bodies recorded from both APIs (the `recordings/` folder next to this
module; `recordings/SOURCES.md` says where each one comes from), at the real URL paths:

- `GET /api/Members/Search` (honours `House`, `IsCurrentMember`, `PartyId`, `ConstituencyId`,
  `Name`, `skip` and `take`), `GET /api/Members/{id}`;
- `GET /api/Location/Constituency/Search` (`searchText`, `skip`, `take`),
  `GET /api/Location/Constituency/{id}`;
- `GET /api/Parties/GetActive/{house}` (`Commons` or `1`; `Lords` or `2` is empty);
- `GET /postcodes/{postcode}`, `POST /postcodes` (bulk), `GET /postcodes?lon=&lat=` (nearest).

The dataset is small but consistent: the current MP of every constituency is served by `Members/{id}` and
listed by `Members/Search`, and every member's party is in `GetActive`. Other paths answer 404. It is small
(one constituency and its MP, two other MPs, the Commons' parties of November 2024) because no other real
recording of these answers was found in public sources; `recordings/SOURCES.md` says what was searched.

Paging follows the real API: `take` defaults to 20 and is capped at 20, `skip` defaults to 0, and
`Parties/GetActive` ignores both and returns everything.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["ReplayServer", "main"]

logger = logging.getLogger("pyck.geo.replay")

# The Members API's documented maximum page size (OpenAPI: "The number of records to return, default is 20.
# Maximum is 20").
_MAX_TAKE = 20

# The format check postcodes.io applies before looking a postcode up (its `isValid`): a malformed string gets
# "Invalid postcode", a well-formed unknown one "Postcode not found".
_POSTCODE_FORMAT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}$", re.IGNORECASE)

# postcodes.io's bulk limit (BULKLOOKUPS_POSTCODES_MAX) and its answer above it.
_BULK_MAX = 100

_HOUSES = {"commons": 1, "1": 1, "lords": 2, "2": 2}


def _load(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath("recordings", name).read_text(encoding="utf-8"))


def _compact(postcode: str) -> str:
    return re.sub(r"\s+", "", postcode).upper()


class _Dataset:
    """The recorded records, indexed the way the endpoints look them up."""

    def __init__(self) -> None:
        # Members: the recorded search page (Commons and Lords items), the recorded single member, and the
        # member embedded in the recorded constituency (its current MP), each kept with its own links.
        constituency_item = _load("parliament_constituency.json")
        members = [item for item in _load("parliament_members_search_variants.json")["items"]]
        members.append(_load("parliament_member.json"))
        members.append(constituency_item["value"]["currentRepresentation"]["member"])
        self.members: dict[int, dict[str, Any]] = {item["value"]["id"]: item for item in members}
        self.constituencies: dict[int, dict[str, Any]] = {constituency_item["value"]["id"]: constituency_item}

        # No recording of Parties/GetActive exists. Its items are built from the Party objects of the recorded
        # StateOfTheParties/Commons answer (every party sitting in the Commons in Nov 2024), in the same
        # {"value": Party, "links": []} wrappers; the envelope follows the OpenAPI PartyMembersServiceSearchResult.
        state = _load("parliament_state_of_parties_commons.json")
        self.commons_parties = [{"value": item["value"]["party"], "links": []} for item in state["items"]]

        self.postcodes: dict[str, dict[str, Any]] = {}
        for name in (
            "postcodes_lookup.json",
            "postcodes_lookup_recorded_2024.json",
            "postcodes_lookup_recorded_2025.json",
        ):
            result = _load(name)["result"]
            self.postcodes[_compact(result["postcode"])] = result
        for entry in _load("postcodes_bulk.json")["result"]:
            self.postcodes[_compact(entry["result"]["postcode"])] = entry["result"]
        self.nearest = _load("postcodes_reverse_geocode.json")["result"]
        for result in self.nearest:
            self.postcodes.setdefault(
                _compact(result["postcode"]), {k: v for k, v in result.items() if k != "distance"}
            )
        terminated = _load("postcodes_404_terminated.json")
        self.terminated = {_compact(terminated["terminated"]["postcode"]): terminated}
        self.invalid = _load("postcodes_404_invalid.json")
        self.not_found = _load("postcodes_404_not_found.json")


_Response = tuple[int, Any]


class _Routes:
    """Turns a request (method, path, query, body) into a status and a JSON body."""

    def __init__(self, data: _Dataset) -> None:
        self.data = data
        self.table: list[tuple[str, re.Pattern[str], Callable[..., _Response]]] = [
            ("GET", re.compile(r"/api/Members/Search"), self.members_search),
            ("GET", re.compile(r"/api/Members/(?P<id>[^/]+)"), self.member),
            ("GET", re.compile(r"/api/Location/Constituency/Search"), self.constituency_search),
            ("GET", re.compile(r"/api/Location/Constituency/(?P<id>[^/]+)"), self.constituency),
            ("GET", re.compile(r"/api/Parties/GetActive/(?P<house>[^/]+)"), self.parties_active),
            ("GET", re.compile(r"/postcodes/(?P<postcode>[^/]+)"), self.postcode),
            ("GET", re.compile(r"/postcodes"), self.postcodes_nearest),
            ("POST", re.compile(r"/postcodes"), self.postcodes_bulk),
        ]

    def dispatch(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> _Response:
        matched_path = False
        for route_method, pattern, handler in self.table:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            matched_path = True
            if route_method == method:
                return handler(query=query, body=body, **match.groupdict())
        if matched_path:
            return 405, {"status": 405, "error": f"Method {method} not allowed on {path}"}
        return 404, _problem_not_found()

    # --- Members API ---------------------------------------------------------------------------------------

    def members_search(self, query: dict[str, list[str]], **_: Any) -> _Response:
        items = [copy.deepcopy(item) for item in self.data.members.values()]
        house = _first(query, "House")
        if house is not None:
            wanted = _HOUSES.get(house.lower())
            items = [i for i in items if (i["value"]["latestHouseMembership"] or {}).get("house") == wanted]
        current = _first(query, "IsCurrentMember")
        if current is not None:
            want_current = current.lower() == "true"
            items = [i for i in items if _is_current(i["value"]) == want_current]
        party = _first(query, "PartyId")
        if party is not None:
            items = [i for i in items if str((i["value"]["latestParty"] or {}).get("id")) == party]
        constituency = _first(query, "ConstituencyId")
        if constituency is not None:
            items = [
                i
                for i in items
                if str((i["value"]["latestHouseMembership"] or {}).get("membershipFromId")) == constituency
            ]
        name = _first(query, "Name")
        if name:
            items = [i for i in items if name.lower() in (i["value"]["nameDisplayAs"] or "").lower()]
        items.sort(key=lambda i: i["value"]["nameListAs"] or "")
        return 200, _search_page(items, query, "/Members/Search", context="")

    def member(self, id: str, **_: Any) -> _Response:
        item = self.data.members.get(_int(id) or 0)
        return (200, copy.deepcopy(item)) if item is not None else (404, _problem_not_found())

    def constituency_search(self, query: dict[str, list[str]], **_: Any) -> _Response:
        items = [copy.deepcopy(item) for item in self.data.constituencies.values()]
        text = _first(query, "searchText")
        context = ""
        if text:
            items = [i for i in items if text.lower() in i["value"]["name"].lower()]
            # The wording of the recorded answer to searchText=inverness.
            context = f'Result(s) were found based on constituencies in the U.K. matching "{text}".'
        items.sort(key=lambda i: i["value"]["name"])
        return 200, _search_page(items, query, "/Constituency/Search", context=context)

    def constituency(self, id: str, **_: Any) -> _Response:
        item = self.data.constituencies.get(_int(id) or 0)
        return (200, copy.deepcopy(item)) if item is not None else (404, _problem_not_found())

    def parties_active(self, house: str, **_: Any) -> _Response:
        number = _HOUSES.get(house.lower())
        if number is None:
            return 400, _problem(400, "Bad Request")
        items = copy.deepcopy(self.data.commons_parties) if number == 1 else []
        # The real endpoint ignores skip and take and answers with every party at once.
        return 200, {
            "items": items,
            "totalResults": len(items),
            "resultContext": None,
            "skip": 0,
            "take": len(items),
            "links": [{"rel": "self", "href": f"/Parties/GetActive/{house}", "method": "GET"}],
            "resultType": None,
        }

    # --- postcodes.io --------------------------------------------------------------------------------------

    def postcode(self, postcode: str, **_: Any) -> _Response:
        text = unquote(postcode).strip()
        if not _POSTCODE_FORMAT.fullmatch(text):
            return 404, copy.deepcopy(self.data.invalid)
        key = _compact(text)
        if key in self.data.postcodes:
            return 200, {"status": 200, "result": copy.deepcopy(self.data.postcodes[key])}
        if key in self.data.terminated:
            return 404, copy.deepcopy(self.data.terminated[key])
        return 404, copy.deepcopy(self.data.not_found)

    def postcodes_bulk(self, body: bytes, **_: Any) -> _Response:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        postcodes = payload.get("postcodes") if isinstance(payload, dict) else None
        if not isinstance(postcodes, list):
            return 400, {
                "status": 400,
                "error": "Invalid JSON query submitted. You need to submit a JSON object with an array of postcodes "
                "or geolocation objects. Also ensure that Content-Type is set to application/json",
            }
        if len(postcodes) > _BULK_MAX:
            return 400, {
                "status": 400,
                "error": f"Too many postcodes submitted. Up to {_BULK_MAX} postcodes can be bulk requested at a time",
            }
        result = [
            {"query": p, "result": copy.deepcopy(self.data.postcodes.get(_compact(p)))}
            for p in postcodes
            if isinstance(p, str)
        ]
        return 200, {"status": 200, "result": result}

    def postcodes_nearest(self, query: dict[str, list[str]], **_: Any) -> _Response:
        lon = _first(query, "lon") or _first(query, "longitude")
        lat = _first(query, "lat") or _first(query, "latitude")
        if lon is None or lat is None:
            return 400, {"status": 400, "error": "No postcode query submitted. Remember to include query parameter"}
        # Only the recorded neighbourhood (around lon=-0.127, lat=51.507) has postcodes; elsewhere, none in range.
        try:
            near = abs(float(lon) + 0.127) < 0.01 and abs(float(lat) - 51.507) < 0.01
        except ValueError:
            return 400, {"status": 400, "error": "Invalid longitude/latitude submitted"}
        return 200, {"status": 200, "result": copy.deepcopy(self.data.nearest) if near else None}


def _first(query: dict[str, list[str]], name: str) -> str | None:
    # ASP.NET binds query parameters case-insensitively.
    for key, values in query.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _is_current(member: dict[str, Any]) -> bool:
    membership = member.get("latestHouseMembership") or {}
    return membership.get("membershipEndDate") is None


def _search_page(
    items: list[dict[str, Any]], query: dict[str, list[str]], path: str, *, context: str
) -> dict[str, Any]:
    skip = max(0, _int(_first(query, "skip") or "0") or 0)
    take = _int(_first(query, "take") or str(_MAX_TAKE))
    take = _MAX_TAKE if take is None or take <= 0 else min(take, _MAX_TAKE)
    links = [
        {"rel": rel, "href": f"{path}?skip={at}&take={take}", "method": "GET"}
        for rel, at in (("self", skip), ("page.next", skip + take), ("page.previous", max(0, skip - take)))
    ]
    return {
        "items": items[skip : skip + take],
        "totalResults": len(items),
        "resultContext": context,
        "skip": skip,
        "take": take,
        "links": links,
    }


def _problem_not_found() -> dict[str, Any]:
    return _problem(404, "Not Found")


def _problem(status: int, title: str) -> dict[str, Any]:
    # No 404 of the Members API was recorded; this is the RFC 7807 body ASP.NET Core (the API's framework)
    # sends for a bare NotFound()/BadRequest() in an [ApiController].
    return {
        "type": f"https://tools.ietf.org/html/rfc9110#section-15.5.{status - 399}",
        "title": title,
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; without this, keep-alive clients stall ~40 ms per request.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "pyck-replay"
    routes: _Routes

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.routes.dispatch(
            method, unquote(parts.path).rstrip("/") or "/", parse_qs(parts.query), body
        )
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        content_type = (
            "application/problem+json" if isinstance(payload, dict) and "title" in payload else "application/json"
        )
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class ReplayServer:
    """The replay server, run in a background thread (for tests and the example project).

    Args:
        port: the TCP port; 0 (the default) lets the system pick a free one (read it from `url`).
        host: the address to listen on. Only loopback addresses (`127.0.0.0/8`, `localhost`) are accepted:
            the recordings are for local use, not to be served to a network.

    Raises:
        ValueError: `host` is not a loopback address.

    For example:

    ```python
    with ReplayServer() as server:
        with override_settings(PYCK=server.pyck_settings()):
            list(parliament.members.list())
    ```
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = _loopback(host)
        handler = type("_BoundHandler", (_Handler,), {"routes": _Routes(_Dataset())})
        self._server = ThreadingHTTPServer((self.host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The server's root URL, `http://127.0.0.1:<port>` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def parliament_base_url(self) -> str:
        """The value for the `UK_PARLIAMENT_BASE_URL` setting."""
        return f"{self.url}/api"

    @property
    def postcodes_base_url(self) -> str:
        """The value for the `UK_POSTCODES_BASE_URL` setting."""
        return self.url

    def pyck_settings(self) -> dict[str, str]:
        """The `PYCK` setting entries that point both UK datasources at this server."""
        return {"UK_PARLIAMENT_BASE_URL": self.parliament_base_url, "UK_POSTCODES_BASE_URL": self.postcodes_base_url}

    def start(self) -> ReplayServer:
        """Serve in a daemon thread; return `self`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="pyck-replay", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"The replay server only listens on a loopback address such as 127.0.0.1, not {host!r}."
        ) from None
    if address.version != 4 or not address.is_loopback:
        raise ValueError(f"The replay server only listens on a loopback IPv4 address such as 127.0.0.1, not {host!r}.")
    return host


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay server from the command line (`python -m pyck.geo.territories.uk.replay`)."""
    parser = argparse.ArgumentParser(
        prog="python -m pyck.geo.territories.uk.replay",
        description="Serve recorded UK Parliament Members API and postcodes.io responses on the loopback interface.",
    )
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1); others are refused"
    )
    args = parser.parse_args(argv)
    try:
        server = ReplayServer(port=args.port, host=args.host)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    print(
        f"Replaying recorded UK APIs at {server.url} (Parliament {server.parliament_base_url}, postcodes "
        f"{server.postcodes_base_url}); use PYCK = {json.dumps(server.pyck_settings())}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
