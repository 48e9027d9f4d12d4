"""RestDatasource: URLs, headers, get/list, deserialisation, errors and their messages, logging, rate limit."""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import requests
import responses
from django.test import override_settings
from responses import matchers

from pyck.core import http
from pyck.core.datasources import (
    ConfigurationError,
    InvalidResourceError,
    NotFoundError,
    PageNumberPaginator,
    RateLimitError,
    ResponseError,
    RestDatasource,
    TransportError,
)

API = "https://api.zapmessage.io"


@dataclass
class Message:
    id: str
    sender_id: str
    timestamp: datetime
    content: str


MESSAGE = {"id": "m1", "sender_id": "s1", "timestamp": "2024-07-04T10:00:00", "content": "hi"}


class Zap(RestDatasource[Any]):
    base_url = API
    secret_params = (*http.DEFAULT_SECRET_PARAMS, "session")

    def get_headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer zap-s3cr3t-token"}


def messages(**kwargs: Any) -> Zap:
    return Zap(path="/messages", resource_type=Message, name="zap-messages", **kwargs)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []
    monkeypatch.setattr(http, "_sleep", asked.append)
    return asked


# --- URLs and configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "path", "expected"),
    [
        ("https://a.io", "/x", "https://a.io/x"),
        ("https://a.io/", "/x", "https://a.io/x"),
        ("https://a.io/", "x", "https://a.io/x"),
        ("https://a.io/v1", "x/y", "https://a.io/v1/x/y"),
        ("https://a.io/v1/", "", "https://a.io/v1"),
    ],
)
def test_url_joins_base_url_and_path_with_one_slash(base_url: str, path: str, expected: str) -> None:
    assert RestDatasource(base_url=base_url, path=path).url == expected


def test_missing_base_url_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigurationError, match=r"no base_url: set it as a class attribute or pass base_url="):
        RestDatasource(path="/x").url


@pytest.mark.parametrize(
    ("id", "segment"),
    [
        ("../admin", "..%2Fadmin"),
        ("a b", "a%20b"),
        ("café", "caf%C3%A9"),
        ("x?y=1#z", "x%3Fy%3D1%23z"),
        (42, "42"),
    ],
)
def test_get_quotes_the_id_into_one_path_segment(mock_api: responses.RequestsMock, id: Any, segment: str) -> None:
    mock_api.get(f"{API}/messages/{segment}", json={**MESSAGE, "id": str(id)})
    assert messages().get_item_url(id) == f"{API}/messages/{segment}"
    assert messages().get(id).id == str(id)
    assert mock_api.calls[0].request.url == f"{API}/messages/{segment}"


@pytest.mark.parametrize("id", ["..", ".", ""])
def test_ids_that_would_leave_the_resource_path_are_not_requested(mock_api: responses.RequestsMock, id: str) -> None:
    with pytest.raises(NotFoundError, match=r"cannot name a record.*leave the resource path.*zap-messages") as caught:
        messages().get(id)
    assert caught.value.record_id == id
    assert len(mock_api.calls) == 0


# --- get and list ------------------------------------------------------------------------------------------


def test_get_deserialises_and_sends_headers(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages/m1", json=MESSAGE, match=[matchers.query_param_matcher({"expand": "sender"})])
    message = messages().get("m1", expand="sender")
    assert message == Message("m1", "s1", datetime(2024, 7, 4, 10), "hi")
    headers = mock_api.calls[0].request.headers
    assert headers["Authorization"] == "Bearer zap-s3cr3t-token"
    assert headers["User-Agent"].startswith("django-pyck/")


def test_list_plain_json_list_passes_filters_as_query(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages", json=[MESSAGE, {**MESSAGE, "id": "m2"}], match=[matchers.query_param_matcher({"sender_id": "s1"})])
    assert [m.id for m in messages().list(sender_id="s1")] == ["m1", "m2"]


def test_list_applies_the_filter_predicate(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages", json=[MESSAGE, {**MESSAGE, "id": "m2", "content": ""}])
    assert [m.id for m in messages(filter=lambda m: bool(m.content)).list()] == ["m1"]


def test_list_is_lazy(mock_api: responses.RequestsMock) -> None:
    source = messages(paginator=PageNumberPaginator(items_path="items"))
    mock_api.get(f"{API}/messages", json={"items": [MESSAGE]}, match=[matchers.query_param_matcher({"page": "1"})])
    second = mock_api.get(f"{API}/messages", json={"items": []}, match=[matchers.query_param_matcher({"page": "2"})])
    records = source.list()
    assert len(mock_api.calls) == 0
    assert next(records).id == "m1"
    assert len(mock_api.calls) == 1
    assert list(records) == []
    assert second.call_count == 1


def test_dict_resource_type_passes_data_through(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/things", json=[{"id": 1, "any": ["thing"]}])
    assert list(Zap(path="things", resource_type=dict).list()) == [{"id": 1, "any": ["thing"]}]


def test_camel_case_keys_map_to_snake_case_attributes(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages/m1", json={"id": "m1", "senderId": "s1", "timestamp": "2024-07-04T10:00:00", "content": "hi"})
    assert messages(camel_case=True).get("m1").sender_id == "s1"


def test_deserialize_override_unwraps_an_envelope(mock_api: responses.RequestsMock) -> None:
    class Enveloped(Zap):
        def deserialize(self, data: Any) -> Any:
            return super().deserialize(data["value"])

    mock_api.get(f"{API}/messages", json=[{"value": MESSAGE, "links": []}])
    assert [m.id for m in Enveloped(path="messages", resource_type=Message).list()] == ["m1"]


def test_request_posts_json(mock_api: responses.RequestsMock) -> None:
    mock_api.post(f"{API}/bulk", json={"result": [1]}, match=[matchers.json_params_matcher({"ids": [1]})])
    response = Zap(path="bulk").request("POST", f"{API}/bulk", json={"ids": [1]})
    assert response.json() == {"result": [1]}


def test_fetch_url_merges_keyword_params_into_query(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/x", json={"ok": 1}, match=[matchers.query_param_matcher({"a": "1", "page": "2"})])
    assert Zap().fetch_url(f"{API}/x", {"a": 1}, page=2) == {"ok": 1}


# --- Session, timeout, settings ----------------------------------------------------------------------------


def test_one_session_per_instance_rebuilt_when_retry_settings_change() -> None:
    source, other = messages(), messages()
    session = source.get_session()
    assert source.get_session() is session
    assert other.get_session() is not session
    with override_settings(PYCK={"HTTP_RETRIES": 7}):
        rebuilt = source.get_session()
        assert rebuilt is not session
        assert rebuilt.get_adapter(API).max_retries.total == 7


def test_timeout_from_setting_read_at_call_time(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages", json=[])
    mock_api.get(f"{API}/messages", json=[])
    source = messages()
    list(source.list())
    with override_settings(PYCK={"HTTP_TIMEOUT": 3}):
        list(source.list())
    assert [call.request.req_kwargs["timeout"] for call in mock_api.calls] == [30.0, 3.0]


def test_timeout_attribute_wins_over_setting(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages", json=[])
    list(messages(timeout=4.5).list())
    assert mock_api.calls[0].request.req_kwargs["timeout"] == 4.5


def test_one_debug_line_per_request_without_secrets(mock_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    mock_api.get(f"{API}/messages", json=[], match=[matchers.query_param_matcher({"api_key": "k-s3cr3t", "q": "x"})])
    with caplog.at_level(logging.DEBUG, logger="pyck.http"):
        list(messages().list(api_key="k-s3cr3t", q="x"))
    lines = [r.getMessage() for r in caplog.records if r.name == "pyck.http"]
    assert len(lines) == 1
    assert lines[0].startswith(f"GET {API}/messages?api_key=***&q=x -> 200 in ")
    assert lines[0].endswith(" ms")


def test_rate_limit_spaces_requests(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    for _ in range(3):
        mock_api.get(f"{API}/messages", json=[])
    source = messages(rate_limit=2)
    for _ in range(3):
        list(source.list())
    assert waits == pytest.approx([0.5, 1.0], abs=0.05)


# --- Errors ------------------------------------------------------------------------------------------------


def test_404_on_get_is_not_found_naming_datasource_url_and_id(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages/m9", status=404, json={"detail": "nope"})
    with pytest.raises(NotFoundError) as caught:
        messages().get("m9", session="s3cr3t-session")
    error = caught.value
    assert error.record_id == "m9" and error.status_code == 404
    assert str(error) == (
        f"Not found (HTTP 404) (datasource zap-messages, url {API}/messages/m9?session=***, record id 'm9')"
    )


def test_404_on_list_is_a_response_error_about_the_endpoint(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages", status=404)
    with pytest.raises(ResponseError, match=r"list endpoint answered 404.*check base_url and path.*zap-messages") as caught:
        list(messages().list())
    assert not isinstance(caught.value, NotFoundError)


def test_429_after_the_retries_is_rate_limit_error(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    for _ in range(3):
        mock_api.get(f"{API}/messages", status=429, headers={"Retry-After": "2"})
    with override_settings(PYCK={"HTTP_RETRIES": 2}), pytest.raises(RateLimitError) as caught:
        list(messages().list())
    assert caught.value.retry_after == 2.0
    assert waits == [2.0, 2.0]
    assert "still rate limited after the retries" in str(caught.value)
    assert "datasource zap-messages" in str(caught.value)


def test_retry_after_above_the_cap_is_rate_limit_error_at_once(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.get(f"{API}/messages", status=429, headers={"Retry-After": "3600"})
    with override_settings(PYCK={"HTTP_MAX_RETRY_AFTER": 60}), pytest.raises(RateLimitError) as caught:
        list(messages().list())
    assert caught.value.retry_after == 3600.0
    assert "retry after 3600s, more than HTTP_MAX_RETRY_AFTER=60s" in str(caught.value)
    assert waits == [] and len(mock_api.calls) == 1


def test_503_then_success(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.get(f"{API}/messages", status=503)
    mock_api.get(f"{API}/messages", json=[MESSAGE])
    assert [m.id for m in messages().list()] == ["m1"]
    assert len(waits) == 1


def test_5xx_after_the_retries_is_response_error_with_body_but_no_secrets(mock_api: responses.RequestsMock) -> None:
    body = "Internal error for key k-s3cr3t-value and Bearer zap-s3cr3t-token"
    for _ in range(4):
        mock_api.get(f"{API}/messages", status=500, body=body)
    with pytest.raises(ResponseError) as caught:
        list(messages().list(api_key="k-s3cr3t-value"))
    message = str(caught.value)
    assert caught.value.status_code == 500
    assert "GET answered HTTP 500 Internal Server Error: 'Internal error for key *** and ***'" in message
    assert f"url {API}/messages?api_key=***" in message
    assert "s3cr3t" not in message


def test_post_is_not_retried_and_fails_with_response_error(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.post(f"{API}/bulk", status=503, body="busy")
    with pytest.raises(ResponseError, match="POST answered HTTP 503"):
        Zap(path="bulk").request("POST", f"{API}/bulk", json={})
    assert len(mock_api.calls) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("<!doctype html><html>Maintenance</html>", "text/html", "got 'text/html' starting '<!doctype html><html>Maintenance</html>'"),
        ('[{"id": "m1", "sen', "application/json", "got 'application/json' starting '[{\"id\": \"m1\", \"sen'"),
    ],
)
def test_2xx_that_is_not_json_is_response_error(mock_api: responses.RequestsMock, body: str, content_type: str, expected: str) -> None:
    mock_api.get(f"{API}/messages", body=body, content_type=content_type)
    with pytest.raises(ResponseError, match="Expected a JSON body") as caught:
        list(messages().list())
    assert expected in str(caught.value)
    assert f"datasource zap-messages, url {API}/messages" in str(caught.value)


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        (requests.exceptions.ConnectTimeout("connect timeout"), "timed out connecting"),
        (requests.exceptions.ReadTimeout("read timeout"), "timed out waiting for the answer"),
        (requests.exceptions.SSLError("certificate verify failed"), "TLS error"),
        (requests.exceptions.ConnectionError("Connection reset by peer"), "connection failed"),
    ],
)
def test_transport_failures_are_transport_errors(mock_api: responses.RequestsMock, exception: Exception, expected: str) -> None:
    mock_api.get(f"{API}/messages/m1", body=exception)
    with pytest.raises(TransportError, match=expected) as caught:
        messages().get("m1", token="t-s3cr3t")
    assert caught.value.record_id == "m1"
    assert f"url {API}/messages/m1?token=***" in str(caught.value)
    assert caught.value.__cause__ is exception


def test_connection_refused_is_transport_error(waits: list[float]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = RestDatasource(base_url=f"http://127.0.0.1:{port}", path="x", name="local", retries=1)
    with pytest.raises(TransportError, match=r"connection failed: NewConnectionError.*Connection refused") as caught:
        list(source.list(api_key="s3cr3t"))
    assert f"url http://127.0.0.1:{port}/x?api_key=***" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
    assert len(waits) == 1


def test_invalid_record_in_list_names_the_record_and_field(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages", json=[MESSAGE, {"id": "m2", "sender_id": "s1", "content": "x"}])
    records = messages().list()
    assert next(records).id == "m1"
    with pytest.raises(InvalidResourceError) as caught:
        next(records)
    error = caught.value
    assert (error.record_id, error.field, error.url) == ("m2", "timestamp", f"{API}/messages")
    assert "datasource zap-messages" in str(error) and "record id 'm2'" in str(error)


def test_invalid_record_in_get_names_the_id(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/messages/m1", json={**MESSAGE, "sender_id": 5})
    with pytest.raises(InvalidResourceError) as caught:
        messages().get("m1")
    assert caught.value.record_id == "m1" and caught.value.field == "sender_id"


def test_errors_in_a_deserialize_override_become_invalid_resource_errors(mock_api: responses.RequestsMock) -> None:
    class Enveloped(Zap):
        def deserialize(self, data: Any) -> Any:
            return super().deserialize(data["value"])

        def get_raw_id(self, data: Any) -> Any:
            return data.get("value", {}).get("id")

    mock_api.get(f"{API}/messages", json=[{"value": {"id": "m3"}, "links": []}, {"links": []}])
    with pytest.raises(InvalidResourceError) as caught:
        list(Enveloped(path="messages", resource_type=Message).list())
    assert caught.value.record_id == "m3" and caught.value.field == "sender_id"
    mock_api.get(f"{API}/messages", json=[{"links": []}])
    with pytest.raises(InvalidResourceError, match=r"Could not deserialise the record: KeyError: 'value'"):
        list(Enveloped(path="messages", resource_type=Message).list())


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json; charset=iso-8859-1", "Zoë"),  # a charset the server names is honoured
        ("application/json;charset=ISO-8859-1", "Zoë"),
        ("application/json", None),  # none named: JSON is UTF-8, and these bytes are not
        ("application/json; profile=x", None),
    ],
)
def test_json_bodies_are_utf8_unless_the_content_type_names_a_charset(
    mock_api: responses.RequestsMock, content_type: str, expected: str | None
) -> None:
    body = json.dumps({**MESSAGE, "content": "Zoë"}, ensure_ascii=False).encode("iso-8859-1")
    mock_api.get(f"{API}/messages/1", body=body, content_type=content_type)
    if expected is None:
        with pytest.raises(ResponseError, match="UnicodeDecodeError"):
            messages().get(1)
    else:
        assert messages().get(1).content == expected


# --- redact() remembers its answers --------------------------------------------------------------------------


def test_redact_answers_again_after_secret_params_change_in_place():
    source = RestDatasource(base_url="https://api.example.com", path="/x", secret_params=["sig"])
    url = "https://api.example.com/x?sig=abc&page=2&member=7"
    assert source.redact(url) == "https://api.example.com/x?sig=***&page=2&member=7"

    source.secret_params.append("member")  # the same list, mutated

    assert source.redact(url) == "https://api.example.com/x?sig=***&page=2&member=***"


class _Tokened(RestDatasource):
    def get_headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer tok-1234567890"}


@responses.activate
def test_redact_answers_again_once_a_new_secret_has_been_sent():
    source = _Tokened(base_url="https://api.example.com", path="/x", retries=0)
    echo = "https://api.example.com/x?next=tok-1234567890"
    assert source.redact(echo) == echo  # nothing sent yet: not known to be a secret
    responses.get("https://api.example.com/x", json=[])

    list(source.list())

    assert source.redact(echo) == "https://api.example.com/x?next=***"


def test_redact_keeps_a_bounded_number_of_answers():
    source = RestDatasource(base_url="https://api.example.com", path="/x")
    for page in range(1000):
        assert source.redact(f"https://api.example.com/x?page={page}&token=t{page}") == (
            f"https://api.example.com/x?page={page}&token=***"
        )
    assert 0 < len(source._redacted) <= 64


@responses.activate
def test_a_utf8_body_with_a_byte_order_mark_is_read():
    responses.get("https://api.example.com/x", body=b"\xef\xbb\xbf" + json.dumps([{"id": 1}]).encode(), content_type="application/json")

    assert list(RestDatasource(base_url="https://api.example.com", path="/x", retries=0).list()) == [{"id": 1}]
