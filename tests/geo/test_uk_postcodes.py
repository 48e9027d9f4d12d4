"""The postcodes.io datasource against recorded and documented responses (tests/fixtures/uk/, see SOURCES.md)."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.test import override_settings
from responses import matchers

from pyck.core.datasources import InvalidResourceError, NotFoundError, ResponseError
from pyck.geo.territories.uk import postcodes
from pyck.geo.territories.uk.postcodes import (
    GeolocatedPostcode,
    PostcodeCodes,
    PostcodeNotFoundError,
    normalise_postcode,
    postcode,
)
from tests.conftest import load_fixture

API = "https://api.postcodes.io"


@pytest.fixture
def fresh_gis_detection() -> Iterator[None]:
    """Detect GeoDjango afresh (the detection is cached: finding the C libraries is slow)."""
    postcodes._geos_point_class.cache_clear()
    yield
    postcodes._geos_point_class.cache_clear()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sw1a 1aa", "SW1A 1AA"),
        ("  SW1A1AA ", "SW1A 1AA"),
        ("sw1a   1aa", "SW1A 1AA"),
        ("e105ll", "E10 5LL"),
        ("M45 6GN", "M45 6GN"),
        (" not a  postcode ", "NOT A POSTCODE"),
    ],
)
def test_normalise_postcode(given: str, expected: str) -> None:
    assert normalise_postcode(given) == expected


def test_get_normalises_the_postcode_and_returns_a_typed_record(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/postcodes/BR8%207RE", json=load_fixture("uk/postcodes_lookup.json"))

    place = postcode.get("  br87re ")

    assert isinstance(place, GeolocatedPostcode)
    assert (place.postcode, place.outcode, place.incode) == ("BR8 7RE", "BR8", "7RE")
    assert (place.longitude, place.latitude) == (0.178871, 51.411831)
    assert (place.eastings, place.northings, place.quality) == (551626, 170342, 1)
    assert place.parliamentary_constituency_2024 == "Sevenoaks"
    assert place.national_park is None and place.lep2 is None
    assert isinstance(place.codes, PostcodeCodes)
    assert place.codes.admin_district == "E07000111"
    assert place.codes.parliamentary_constituency_2024 == "E14001465"
    assert place.codes.lep2 is None
    assert place.distance is None


def test_older_records_lacking_newer_fields_have_them_as_none(mock_api: responses.RequestsMock) -> None:
    # Recorded in mid-2024, before postcodes.io added nhs_region, ttwa, icb… (and their codes).
    mock_api.get(f"{API}/postcodes/E10%205LL", json=load_fixture("uk/postcodes_lookup_recorded_2024.json"))

    place = postcode.get("E10 5LL")

    assert place.parliamentary_constituency == "Leyton and Wanstead"
    assert place.codes.parliamentary_constituency == "E14000790"
    assert place.codes.parliamentary_constituency_2024 == "E14001334"
    assert place.nhs_region is None and place.icb is None and place.oa21 is None
    assert place.codes.nhs_region is None and place.codes.oa21 is None


# --- 404s ------------------------------------------------------------------------------------------------


def test_invalid_postcode_raises_not_found_saying_so(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/postcodes/NOT%20A%20POSTCODE", status=404, json=load_fixture("uk/postcodes_404_invalid.json"))

    with pytest.raises(PostcodeNotFoundError) as caught:
        postcode.get("not a postcode")

    message = str(caught.value)
    assert "Invalid postcode 'NOT A POSTCODE'" in message
    assert f"{API}/postcodes/NOT%20A%20POSTCODE" in message
    assert "uk.postcodes" in message
    assert caught.value.terminated is None
    assert caught.value.api_error == "Invalid postcode"


def test_unknown_postcode_raises_not_found_saying_so(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/postcodes/ZZ1%201ZZ", status=404, json=load_fixture("uk/postcodes_404_not_found.json"))

    with pytest.raises(NotFoundError, match=r"Postcode 'ZZ1 1ZZ' not found \(postcodes.io: Postcode not found\)"):
        postcode.get("zz11zz")


def test_terminated_postcode_raises_not_found_with_when(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/postcodes/AB1%200AA", status=404, json=load_fixture("uk/postcodes_404_terminated.json"))

    with pytest.raises(PostcodeNotFoundError, match=r"Postcode 'AB1 0AA' was terminated in June 1996") as caught:
        postcode.get("AB10AA")

    terminated = caught.value.terminated
    assert terminated is not None
    assert (terminated.postcode, terminated.year_terminated, terminated.month_terminated) == ("AB1 0AA", 1996, 6)
    assert (terminated.longitude, terminated.latitude) == (-2.242851, 57.101474)


def test_404_without_a_body_still_names_the_postcode(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/postcodes/ZZ1%201ZZ", status=404, body="")

    with pytest.raises(NotFoundError, match=r"Postcode 'ZZ1 1ZZ' not found .*record id 'ZZ1 1ZZ'"):
        postcode.get("ZZ1 1ZZ")


# --- Bulk ------------------------------------------------------------------------------------------------


def _bulk_answer(known: dict[str, dict[str, Any]]) -> Any:
    """A POST /postcodes callback answering as postcodes.io does: one entry per postcode sent, in order, with
    the documented bulk example's records for the postcodes it holds and null for the others."""

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        sent = json.loads(request.body or b"{}")["postcodes"]
        result = [{"query": p, "result": known.get(p.replace(" ", "").upper())} for p in sent]
        return 200, {"Content-Type": "application/json"}, json.dumps({"status": 200, "result": result})

    return callback


def test_get_many_posts_100_per_request_and_keeps_input_order_with_none_holes(mock_api: responses.RequestsMock) -> None:
    documented = load_fixture("uk/postcodes_bulk.json")["result"]
    known = {entry["result"]["postcode"].replace(" ", ""): entry["result"] for entry in documented}
    mock_api.add_callback(
        responses.POST, f"{API}/postcodes", callback=_bulk_answer(known), content_type="application/json"
    )
    spellings = ["pr3 0sg", "M456GN", " EX16 5BL", "ZZ1 1ZZ", "not a postcode"]
    asked = [spellings[n % 5] for n in range(150)]

    found = postcode.get_many(asked)

    assert len(found) == 150
    expected = ["PR3 0SG", "M45 6GN", "EX16 5BL", None, None] * 30
    assert [p.postcode if p is not None else None for p in found] == expected
    sent = [json.loads(call.request.body or b"{}")["postcodes"] for call in mock_api.calls]
    assert [len(batch) for batch in sent] == [100, 50]
    assert sent[0][:5] == ["PR3 0SG", "M45 6GN", "EX16 5BL", "ZZ1 1ZZ", "NOT A POSTCODE"]
    assert sent[0] + sent[1] == [normalise_postcode(p) for p in asked]


def test_get_many_of_nothing_sends_nothing(mock_api: responses.RequestsMock) -> None:
    assert postcode.get_many([]) == []
    assert len(mock_api.calls) == 0


def test_bulk_post_is_retried_on_429(mock_api: responses.RequestsMock) -> None:
    mock_api.post(f"{API}/postcodes", status=429, headers={"Retry-After": "1"})
    mock_api.post(
        f"{API}/postcodes",
        json=load_fixture("uk/postcodes_bulk.json"),
        match=[matchers.json_params_matcher({"postcodes": ["PR3 0SG", "M45 6GN", "EX16 5BL"]})],
    )

    found = postcode.get_many(["PR3 0SG", "M45 6GN", "EX165BL"])

    assert [p.postcode for p in found if p is not None] == ["PR3 0SG", "M45 6GN", "EX16 5BL"]
    assert len(mock_api.calls) == 2


def test_a_bulk_record_that_does_not_fit_names_the_postcode_and_field(mock_api: responses.RequestsMock) -> None:
    body = load_fixture("uk/postcodes_bulk.json")
    body["result"][1]["result"]["quality"] = "high"
    mock_api.post(f"{API}/postcodes", json=body)

    with pytest.raises(InvalidResourceError, match=r"uk.postcodes.*record id 'M45 6GN'.*field 'quality'"):
        postcode.get_many(["PR3 0SG", "M45 6GN", "EX16 5BL"])


def test_a_bulk_answer_with_missing_entries_is_refused(mock_api: responses.RequestsMock) -> None:
    body = load_fixture("uk/postcodes_bulk.json")
    del body["result"][2]
    mock_api.post(f"{API}/postcodes", json=body)

    with pytest.raises(ResponseError, match=r"Expected 3 results in the bulk answer.*got 2"):
        postcode.get_many(["PR3 0SG", "M45 6GN", "EX16 5BL"])


# --- Reverse geocoding, listing ----------------------------------------------------------------------------


def test_nearest_returns_postcodes_with_their_distance(mock_api: responses.RequestsMock) -> None:
    mock_api.get(
        f"{API}/postcodes",
        json=load_fixture("uk/postcodes_reverse_geocode.json"),
        match=[matchers.query_param_matcher({"lon": "-0.127", "lat": "51.507", "radius": "200"})],
    )
    mock_api.get(
        f"{API}/postcodes",
        json={"status": 200, "result": None},
        match=[matchers.query_param_matcher({"lon": "1.0", "lat": "1.0"})],
    )

    found = postcode.nearest(longitude=-0.127, latitude=51.507, radius=200)

    assert [(p.postcode, p.distance) for p in found] == [("SW1A 2DD", 10.58165325)]
    assert postcode.nearest(longitude=1.0, latitude=1.0) == []


def test_list_is_not_offered_and_says_how_to_look_postcodes_up() -> None:
    with pytest.raises(NotImplementedError, match=r"no listing of postcodes.*postcode.get\(.*get_many"):
        postcode.list()


# --- The point -------------------------------------------------------------------------------------------


def _place(**fields: Any) -> GeolocatedPostcode:
    base = dict(
        postcode="SW1A 2DD",
        outcode="SW1A",
        incode="2DD",
        quality=1,
        country="England",
        longitude=-0.127149,
        latitude=51.50702,
    )
    return GeolocatedPostcode(**{**base, **fields})


@pytest.mark.usefixtures("fresh_gis_detection")
def test_point_is_a_lon_lat_tuple_without_geodjango() -> None:
    # This machine has neither GDAL nor GEOS: django.contrib.gis cannot be imported.
    assert _place().point == (-0.127149, 51.50702)
    assert _place(longitude=None, latitude=None).point is None


@pytest.mark.usefixtures("fresh_gis_detection")
def test_point_is_a_geodjango_point_when_gis_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    class Point:
        def __init__(self, x: float, y: float, srid: int | None = None) -> None:
            self.coords, self.srid = (x, y), srid

    fake_geos = types.ModuleType("django.contrib.gis.geos")
    fake_geos.Point = Point  # type: ignore[attr-defined]
    fake_geos.geos_version = lambda: b"3.12.1"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "django.contrib.gis.geos", fake_geos)

    point = _place().point

    assert isinstance(point, Point)
    assert (point.coords, point.srid) == ((-0.127149, 51.50702), 4326)


# --- Settings --------------------------------------------------------------------------------------------


def test_base_url_comes_from_settings_at_call_time(mock_api: responses.RequestsMock) -> None:
    mock_api.get("http://127.0.0.1:9/postcodes/BR8%207RE", json=load_fixture("uk/postcodes_lookup.json"))

    with override_settings(PYCK={"UK_POSTCODES_BASE_URL": "http://127.0.0.1:9"}):
        assert postcode.get("BR8 7RE").postcode == "BR8 7RE"
    assert postcode.url == f"{API}/postcodes"


# --- Live (skipped unless -m live) -----------------------------------------------------------------------


@pytest.mark.live
def test_live_lookup_bulk_and_not_found() -> None:
    place = postcode.get("sw1a 1aa")
    assert place.postcode == "SW1A 1AA" and place.codes.admin_district

    assert [p is not None for p in postcode.get_many(["SW1A 1AA", "ZZ1 1ZZ"])] == [True, False]

    with pytest.raises(NotFoundError, match="Invalid postcode"):
        postcode.get("nonsense")
