"""UK postcode geocoding, from [postcodes.io](https://postcodes.io/) (free, no key needed).

One datasource, `postcode`:

```python
from pyck.geo.territories.uk.postcodes import postcode

place = postcode.get("sw1a 2dd")       # input is normalised to "SW1A 2DD"
place.parliamentary_constituency_2024   # "Cities of London and Westminster"
place.codes.admin_district              # "E09000033" (ONS/GSS codes)
place.point                             # Point(-0.127149, 51.50702) with GeoDjango, else a tuple

postcode.get_many(["PR3 0SG", "ZZ1 1ZZ"])   # [GeolocatedPostcode(...), None], 100 per request
postcode.nearest(longitude=-0.127, latitude=51.507)   # reverse geocoding, closest first
```

A postcode that is malformed, unknown or terminated raises `PostcodeNotFoundError` (a
`NotFoundError`) naming it and saying which; a terminated one carries its
`TerminatedPostcode` as `error.terminated`.
postcodes.io has no listing of all postcodes, so `PostcodesDatasource.list` raises
`NotImplementedError`. The API root is the `UK_POSTCODES_BASE_URL` setting, read on every request.

GeoDjango is optional: pyck imports and works without GDAL/GEOS, and `GeolocatedPostcode.point` is then a
plain `(longitude, latitude)` tuple.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import quote

import requests
from django.core.exceptions import ImproperlyConfigured

from pyck.core import http
from pyck.core.conf import pyck_settings
from pyck.core.exceptions import DatasourceError, InvalidResourceError, NotFoundError, ResponseError
from pyck.core.records import deserializer_for
from pyck.core.rest import RestDatasource

__all__ = [
    "GeolocatedPostcode",
    "PostcodeCodes",
    "PostcodeNotFoundError",
    "PostcodesDatasource",
    "TerminatedPostcode",
    "normalise_postcode",
    "postcode",
]

# postcodes.io's own format check (its `isValid`), on a postcode with the spaces removed.
_POSTCODE_FORMAT = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}")

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def normalise_postcode(value: str) -> str:
    """Return `value` upper-cased, trimmed, with one space before the inward code: `" sw1a1aa"` ->
    `"SW1A 1AA"`. A string that is not shaped like a postcode only has its spaces collapsed."""
    if not isinstance(value, str):
        raise TypeError(f"A postcode must be a string, got {value!r} ({type(value).__name__})")
    text = " ".join(value.split()).upper()
    compact = text.replace(" ", "")
    if _POSTCODE_FORMAT.fullmatch(compact):
        return f"{compact[:-3]} {compact[-3:]}"
    return text


@dataclass(kw_only=True)
class PostcodeCodes:
    """The ONS/GSS codes of the areas a postcode lies in (`E09000033`…); `None` where the area does not
    apply. `E99999999` (and its S/W/N equivalents) is the ONS "no such area here" pseudo-code."""

    admin_district: str | None = None
    admin_county: str | None = None
    admin_ward: str | None = None
    parish: str | None = None
    parliamentary_constituency: str | None = None
    """Since Sep 2024 the same value as `parliamentary_constituency_2024` (older records: 2010 boundaries)."""
    parliamentary_constituency_2024: str | None = None
    ccg: str | None = None
    ccg_id: str | None = None
    ced: str | None = None
    nuts: str | None = None
    lau2: str | None = None
    lsoa: str | None = None
    msoa: str | None = None
    pfa: str | None = None
    nhs_region: str | None = None
    ttwa: str | None = None
    national_park: str | None = None
    bua: str | None = None
    icb: str | None = None
    cancer_alliance: str | None = None
    lsoa11: str | None = None
    msoa11: str | None = None
    lsoa21: str | None = None
    msoa21: str | None = None
    oa21: str | None = None
    ruc11: str | None = None
    ruc21: str | None = None
    lep1: str | None = None
    lep2: str | None = None


@dataclass(kw_only=True)
class GeolocatedPostcode:
    """A postcode with its location and the names of the areas it lies in (postcodes.io's `Postcode`).

    Area names are `None` where the area does not apply (no county in unitary areas, no CED outside England…)
    and for fields postcodes.io added after a record was served. `codes` holds the matching ONS codes.
    """

    postcode: str
    """"SW1A 2DD\""""
    outcode: str
    """The part before the space ("SW1A")."""
    incode: str
    """The part after the space ("2DD")."""
    quality: int
    """Positional quality, 1 (within the building) to 9 (no coordinates)."""
    eastings: int | None = None
    """OS grid reference in metres; `None` in the Channel Islands and the Isle of Man."""
    northings: int | None = None
    country: str
    longitude: float | None = None
    """WGS84; `None` when the postcode has no location."""
    latitude: float | None = None
    parliamentary_constituency: str | None = None
    """Westminster constituency; since Sep 2024 the same value as `parliamentary_constituency_2024`."""
    parliamentary_constituency_2024: str | None = None
    """Westminster constituency on the July 2024 boundaries."""
    region: str | None = None
    admin_district: str | None = None
    admin_county: str | None = None
    admin_ward: str | None = None
    parish: str | None = None
    ced: str | None = None
    european_electoral_region: str | None = None
    nhs_ha: str | None = None
    nhs_region: str | None = None
    primary_care_trust: str | None = None
    ccg: str | None = None
    icb: str | None = None
    cancer_alliance: str | None = None
    pfa: str | None = None
    nuts: str | None = None
    lsoa: str | None = None
    msoa: str | None = None
    lsoa11: str | None = None
    msoa11: str | None = None
    lsoa21: str | None = None
    msoa21: str | None = None
    oa21: str | None = None
    ruc11: str | None = None
    ruc21: str | None = None
    ttwa: str | None = None
    national_park: str | None = None
    bua: str | None = None
    lep1: str | None = None
    lep2: str | None = None
    date_of_introduction: str | None = None
    """"YYYYMM\""""
    codes: PostcodeCodes = field(default_factory=PostcodeCodes)
    distance: float | None = None
    """Metres from the point asked about; set only by `PostcodesDatasource.nearest`."""

    point: Any = field(init=False, default=None, compare=False)
    """The location as a GeoDjango `Point(longitude, latitude, srid=4326)` when GeoDjango (GEOS) is available,
    else a plain `(longitude, latitude)` tuple; `None` when the postcode has no location. Computed from
    `longitude` and `latitude`; a model's `PointField` named `point` is synced from it.
    """

    def __post_init__(self) -> None:
        if self.longitude is None or self.latitude is None:
            self.point = None
            return
        point_class = _geos_point_class()
        if point_class is None:
            self.point = (self.longitude, self.latitude)
        else:
            self.point = point_class(self.longitude, self.latitude, srid=4326)


@dataclass(kw_only=True)
class TerminatedPostcode:
    """A postcode no longer in use, as postcodes.io describes it in its 404 answer."""

    postcode: str
    year_terminated: int
    month_terminated: int
    longitude: float | None = None
    latitude: float | None = None


class PostcodeNotFoundError(NotFoundError):
    """postcodes.io has no such postcode: it is malformed, unknown, or terminated (no longer in use).

    The message says which, and names the postcode; catch `NotFoundError` unless
    you need the details below.
    """

    api_error: str | None = None
    """postcodes.io's explanation: `"Invalid postcode"` (malformed) or `"Postcode not found"`."""
    terminated: TerminatedPostcode | None = None
    """When and where the postcode was last in use, for a terminated postcode; else `None`."""


@functools.cache
def _geos_point_class() -> Any:
    # django.contrib.gis needs the GDAL and GEOS C libraries; without them its import raises
    # ImproperlyConfigured (or OSError), and pyck falls back to tuples. Cached: finding a library is slow.
    try:
        from django.contrib.gis.geos import Point, geos_version

        geos_version()
    except (ImportError, OSError, ImproperlyConfigured):
        return None
    return Point


class PostcodesDatasource(RestDatasource[GeolocatedPostcode]):
    """postcodes.io: look postcodes up one at a time (`get`), in bulk (`get_many`) or by location
    (`nearest`). It has no listing: `list` raises `NotImplementedError`."""

    resource_type = GeolocatedPostcode
    identifier = "postcode"
    path = "/postcodes"
    bulk_size: int = 100
    """postcodes.io's limit on one bulk request (BULKLOOKUPS_POSTCODES_MAX)."""
    retry_methods = http.DEFAULT_RETRY_METHODS | {"POST"}
    """The bulk lookup is a POST but reads only, so it is as safe to retry as a GET."""
    # An explicit API root; None (the default) reads the UK_POSTCODES_BASE_URL setting on every request.
    _base_url: str | None = None

    @property
    def base_url(self) -> str:
        """The API root: the `UK_POSTCODES_BASE_URL` setting unless one was given to the constructor."""
        return self._base_url or str(pyck_settings.UK_POSTCODES_BASE_URL)

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        self._base_url = value

    def get_item_url(self, id: Any) -> str:
        """`{url}/{postcode}`, the postcode normalised and quoted (`…/postcodes/SW1A%202DD`)."""
        return f"{self.url}/{quote(normalise_postcode(id), safe='')}"

    def get(self, id: str, **query: Any) -> GeolocatedPostcode:
        """Look up one postcode (any case and spacing: it is normalised first).

        Raises:
            PostcodeNotFoundError: (a `NotFoundError`) the postcode is malformed ("Invalid postcode"),
                unknown ("Postcode not found") or terminated (then `error.terminated` is a
                `TerminatedPostcode`).
        """
        wanted = normalise_postcode(id)
        item_url = self.get_item_url(wanted)
        try:
            self.check_item_url(item_url, wanted)
            body = self.fetch_url(item_url, query)
        except NotFoundError as error:
            raise self._not_found(error, wanted) from error
        except DatasourceError as error:
            raise error.with_context(record_id=wanted) from error
        url = self.redact(self.get_item_url(wanted))
        return self._record(self._result(body, url), url=url, record_id=wanted)

    def get_many(self, postcodes: Iterable[str]) -> list[GeolocatedPostcode | None]:
        """Look up any number of postcodes, `bulk_size` (100) per request.

        Returns one entry per postcode given, in the same order: the postcode, or `None` for each one that
        is malformed, unknown or terminated (the bulk endpoint does not say which).
        """
        wanted = [normalise_postcode(p) for p in postcodes]
        found: list[GeolocatedPostcode | None] = []
        for start in range(0, len(wanted), self.bulk_size):
            chunk = wanted[start : start + self.bulk_size]
            response = self.request("POST", self.url, json={"postcodes": chunk})
            url = self.redact(self.url)
            entries = self._result(self.parse_json(response), url)
            if not isinstance(entries, list) or len(entries) != len(chunk):
                raise ResponseError(
                    f"Expected {len(chunk)} results in the bulk answer, one per postcode sent, got "
                    f"{len(entries) if isinstance(entries, list) else type(entries).__name__}",
                    datasource=self,
                    url=url,
                )
            for sent, entry in zip(chunk, entries, strict=True):
                result = entry.get("result") if isinstance(entry, Mapping) else None
                found.append(None if result is None else self._record(result, url=url, record_id=sent))
        return found

    def nearest(
        self,
        longitude: float,
        latitude: float,
        *,
        radius: int | None = None,
        limit: int | None = None,
        widesearch: bool = False,
    ) -> list[GeolocatedPostcode]:
        """Return the postcodes nearest a WGS84 point, closest first, each with its
        `distance` in metres.

        `radius` is in metres (postcodes.io's default 100, at most 2,000), `limit` the number of results
        (default 10, at most 100); `widesearch` searches up to 20 km for at most 10. An empty list when
        nothing is in range.
        """
        query: dict[str, Any] = {"lon": longitude, "lat": latitude}
        if radius is not None:
            query["radius"] = radius
        if limit is not None:
            query["limit"] = limit
        if widesearch:
            query["widesearch"] = "true"
        url = self.redact(f"{self.url}?lon={longitude}&lat={latitude}")
        results = self._result(self.fetch_url(self.url, query), url) or []
        return [
            self._record(result, url=url, record_id=result.get("postcode") if isinstance(result, Mapping) else None)
            for result in results
        ]

    def list(self, **filter: Any) -> NoReturn:
        """postcodes.io offers no listing of postcodes: this always raises `NotImplementedError`."""
        raise NotImplementedError(
            f"{self}: postcodes.io offers no listing of postcodes, so it cannot be listed or synced as a whole. "
            'Look postcodes up instead: postcode.get("SW1A 1AA"), postcode.get_many([...]) for any number of '
            "them (100 per request), or postcode.nearest(longitude=..., latitude=...)."
        )

    def paginate(self, **query: Any) -> Iterator[Any]:
        """Not offered by postcodes.io (see `list`)."""
        return self.list(**query)

    # --- Internals -----------------------------------------------------------------------------------------

    def _record(self, data: Any, *, url: str, record_id: Any) -> GeolocatedPostcode:
        try:
            return self.deserialize(data)
        except InvalidResourceError as error:
            raise error.with_context(datasource=self, url=url, record_id=record_id) from error

    def _result(self, body: Any, url: str) -> Any:
        # Every postcodes.io answer is {"status": <int>, "result": ...}.
        if not isinstance(body, Mapping) or "result" not in body:
            raise ResponseError(
                'Expected a postcodes.io answer, {"status": ..., "result": ...}', datasource=self, url=url
            )
        return body["result"]

    def get_status_error(self, response: requests.Response, *, method: str, url: str) -> DatasourceError:
        """Turn a 404 into a `PostcodeNotFoundError` carrying postcodes.io's explanation from the body
        (`"Invalid postcode"`, `"Postcode not found"`, and a `terminated` object)."""
        error = super().get_status_error(response, method=method, url=url)
        if not isinstance(error, NotFoundError):
            return error
        found = PostcodeNotFoundError(error.reason, datasource=self, url=error.url, status_code=404)
        found.body = body = error.body
        if isinstance(body, Mapping):
            found.api_error = body.get("error") if isinstance(body.get("error"), str) else None
            terminated = body.get("terminated")
            if isinstance(terminated, Mapping):
                try:
                    found.terminated = deserializer_for(TerminatedPostcode)(terminated)
                except InvalidResourceError:
                    found.terminated = None
        return found

    def _not_found(self, error: NotFoundError, wanted: str) -> PostcodeNotFoundError:
        api_error = getattr(error, "api_error", None)
        terminated = getattr(error, "terminated", None)
        if terminated is not None:
            month = _MONTHS[terminated.month_terminated - 1] if 1 <= terminated.month_terminated <= 12 else "?"
            reason = f"Postcode {wanted!r} was terminated in {month} {terminated.year_terminated}"
        elif api_error == "Invalid postcode":
            reason = f"Invalid postcode {wanted!r}: it is not shaped like a UK postcode"
        elif api_error:
            reason = f"Postcode {wanted!r} not found (postcodes.io: {api_error})"
        else:
            reason = f"Postcode {wanted!r} not found"
        url = error.url or self.redact(self.get_item_url(wanted))
        found = PostcodeNotFoundError(reason, datasource=self, url=url, record_id=wanted, status_code=404)
        found.api_error, found.terminated, found.body = api_error, terminated, error.body
        return found


postcode: PostcodesDatasource = PostcodesDatasource(name="uk.postcodes")
"""postcodes.io (`UK_POSTCODES_BASE_URL`)."""
