"""The "Writing your own datasource" examples of docs/datasources-guide.md, run against fake APIs.

Each example is kept as the guide prints it, with only these corrections (the guide should get them too):

- both: ``import typing`` was missing for ``typing.TypeVar``;
- client library: ``setting.ZAPMESSAGE_API_KEY`` → ``settings.``; its ``NotFoundError`` now subclasses pyck's,
  so callers (the sync engine) can tell "no such record" from other failures, as the Datasource contract says;
- REST API: ``MessageSender`` was defined twice and ``MessageCategory`` not at all;
- REST API ``paginate()``: ``page <= total_pages>`` → ``page <= total_pages``, and ``page`` never went up
  (the loop fetched page 1 forever).

The code is executed from these strings, each in its own namespace, so the names stay the guide's own.
"""

from __future__ import annotations

import sys
import types
from datetime import datetime
from typing import Any, ClassVar

import pytest
import responses
from responses import matchers

from pyck.core.datasources import Datasource, NotFoundError, RestDatasource

# --- "Adapting an existing client library" -----------------------------------------------------------------

CLIENT_LIBRARY_EXAMPLE = """
import typing
from typing import TypeVar, Iterable, Any

import zapmessage
from django.conf import settings
from pyck.core import datasources
from pyck.core.datasources import Datasource

# We're using type hints in this example, but feel free to ignore them if
# they're unfamiliar.
ResourceT = typing.TypeVar('ResourceT')

class ZapMessageResource(Datasource[ResourceT]):
  class NotFoundError(datasources.NotFoundError):
    pass

  # The Datasource class will set any keyword-args provided to the
  # constructor as instance variables. We add this type hint to document
  # that this is expected.
  resource_type: zapmessage.Resource

  def get(self, id: str) -> ResourceT:
    response = self.resource_type.get(id, api_key=self.api_key)
    if response is None:
      raise ZapMessageResource.NotFoundError(f'not found: {id}')

    return response

  def list(self, **filter: Any) -> Iterable[ResourceT]:
    return self.resource_type.filter(api_key=self.api_key, **filter)

  @property
  def api_key(self):
    return settings.ZAPMESSAGE_API_KEY


messages: Datasource[zapmessage.Message] = ZapMessageResource(
  resource_type=zapmessage.Message
)

senders: Datasource[zapmessage.MessageSender] = ZapMessageResource(
  resource_type=zapmessage.MessageSender
)

categories: Datasource[zapmessage.MessageCategory] = ZapMessageResource(
  resource_type=zapmessage.MessageCategory
)
"""


class _Resource:
    """The fake ``zapmessage`` client's base class: ``get(id, api_key=)`` and ``filter(api_key=, **filter)``."""

    store: ClassVar[dict[str, Any]] = {}
    calls: ClassVar[list[tuple[str, Any, dict[str, Any]]]] = []

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    @classmethod
    def get(cls, id: str, *, api_key: str) -> Any:
        _Resource.calls.append((f"{cls.__name__}.get", id, {"api_key": api_key}))
        return cls.store.get(id)

    @classmethod
    def filter(cls, *, api_key: str, **filter: Any) -> list[Any]:
        _Resource.calls.append((f"{cls.__name__}.filter", None, {"api_key": api_key, **filter}))
        return [r for r in cls.store.values() if all(getattr(r, k) == v for k, v in filter.items())]


@pytest.fixture
def zapmessage(monkeypatch: pytest.MonkeyPatch, settings: Any) -> types.ModuleType:
    """A fake ``zapmessage`` client library, importable as ``zapmessage`` for the duration of a test."""
    module = types.ModuleType("zapmessage")
    module.Resource = _Resource  # type: ignore[attr-defined]
    for name in ("Message", "MessageSender", "MessageCategory"):
        setattr(module, name, type(name, (_Resource,), {"store": {}}))
    module.Message.store = {  # type: ignore[attr-defined]
        "m1": module.Message(id="m1", sender_id="s1", content="hello"),  # type: ignore[attr-defined]
        "m2": module.Message(id="m2", sender_id="s2", content="bye"),  # type: ignore[attr-defined]
    }
    module.MessageSender.store = {"s1": module.MessageSender(id="s1", name="Ada")}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zapmessage", module)
    monkeypatch.setattr(_Resource, "calls", [])
    settings.ZAPMESSAGE_API_KEY = "zap-key"
    return module


def run_example(source: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"guide_{name}"}
    exec(compile(source, f"<guide: {name}>", "exec", dont_inherit=True), namespace)
    return namespace


def test_client_library_example(zapmessage: types.ModuleType) -> None:
    example = run_example(CLIENT_LIBRARY_EXAMPLE, "client_library")
    messages, senders, categories = example["messages"], example["senders"], example["categories"]
    assert all(isinstance(d, Datasource) for d in (messages, senders, categories))

    assert messages.get("m1").content == "hello"
    assert senders.get("s1").name == "Ada"
    assert [m.id for m in messages.list(sender_id="s2")] == ["m2"]
    assert list(categories.list()) == []
    assert messages.get_id(messages.get("m2")) == "m2"
    assert _Resource.calls[:3] == [
        ("Message.get", "m1", {"api_key": "zap-key"}),
        ("MessageSender.get", "s1", {"api_key": "zap-key"}),
        ("Message.filter", None, {"api_key": "zap-key", "sender_id": "s2"}),
    ]

    with pytest.raises(NotFoundError, match="not found: m9"):
        messages.get("m9")


def test_client_library_example_reads_the_api_key_when_called(zapmessage: types.ModuleType, settings: Any) -> None:
    messages = run_example(CLIENT_LIBRARY_EXAMPLE, "client_library")["messages"]
    settings.ZAPMESSAGE_API_KEY = "rotated"
    messages.get("m1")
    assert _Resource.calls == [("Message.get", "m1", {"api_key": "rotated"})]


# --- "Calling a REST API" ----------------------------------------------------------------------------------

REST_EXAMPLE = """
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, Iterable, Any, Dict

from django.conf import settings
from pyck.core.datasources import RestDatasource

@dataclass
class Message:
  id: str
  sender_id: str
  category_id: str
  timestamp: datetime
  content: str

@dataclass
class MessageSender:
  id: str
  name: str

@dataclass
class MessageCategory:
  id: str
  name: str


# We're using type hints in this example, but feel free to ignore them if
# they're unfamiliar.
ResourceT = typing.TypeVar('ResourceT')

class ZapMessageResource(RestDatasource[ResourceT]):
  base_url = 'https://api.zapmessage.io'

  def get_headers(self) -> Dict[str, str]:
    return {
      'Authorization': f'Bearer {settings.ZAPMESSAGE_API_KEY}'
    }

messages: RestDatasource[Message] = ZapMessageResource(
  path='/messages',
  resource_type=Message
)

senders: RestDatasource[MessageSender] = ZapMessageResource(
  path='/senders',
  resource_type=MessageSender
)

categories: RestDatasource[MessageCategory] = ZapMessageResource(
  path='/categories',
  resource_type=MessageCategory
)
"""

PAGINATED_REST_EXAMPLE = """
class ZapMessageResource(RestDatasource[ResourceT]):
  base_url = 'https://api.zapmessage.io'

  def get_headers(self) -> Dict[str, str]:
    return {
      'Authorization': f'Bearer {settings.ZAPMESSAGE_API_KEY}'
    }

  def paginate(self, **query: Any) -> Iterable[Any]:
    page = 1
    total_pages = None

    while total_pages is None or page <= total_pages:
      response = self.fetch_url(self.url, query, page=page)
      total_pages = response['total_pages']

      for item in response['items']:
        yield item

      page += 1
"""

API = "https://api.zapmessage.io"
MESSAGE = {"id": "m1", "sender_id": "s1", "category_id": "c1", "timestamp": "2024-07-04T10:00:00", "content": "hi"}
AUTH = matchers.header_matcher({"Authorization": "Bearer zap-key"})


@pytest.fixture
def rest_example(settings: Any) -> dict[str, Any]:
    settings.ZAPMESSAGE_API_KEY = "zap-key"
    return run_example(REST_EXAMPLE, "rest")


def test_rest_example_gets_and_lists(rest_example: dict[str, Any], mock_api: responses.RequestsMock) -> None:
    messages, senders, categories = (rest_example[n] for n in ("messages", "senders", "categories"))
    assert isinstance(messages, RestDatasource)
    mock_api.get(f"{API}/messages/m1/", json=MESSAGE, match=[AUTH])
    mock_api.get(f"{API}/senders", json=[{"id": "s1", "name": "Ada"}, {"id": "s2", "name": "Bo"}], match=[AUTH])
    mock_api.get(f"{API}/categories", json=[{"id": "c1", "name": "News"}], match=[AUTH])

    message = messages.get("m1")
    assert message == rest_example["Message"]("m1", "s1", "c1", datetime(2024, 7, 4, 10), "hi")
    assert [s.name for s in senders.list()] == ["Ada", "Bo"]
    assert [c.name for c in categories.list()] == ["News"]


def test_rest_example_with_paginate_override_walks_every_page(rest_example: dict[str, Any], mock_api: responses.RequestsMock) -> None:
    exec(compile(PAGINATED_REST_EXAMPLE, "<guide: rest paginated>", "exec", dont_inherit=True), rest_example)
    messages = rest_example["ZapMessageResource"](path="/messages", resource_type=rest_example["Message"])
    for number, ids in [(1, ["m1", "m2"]), (2, ["m3"]), (3, ["m4"])]:
        mock_api.get(
            f"{API}/messages",
            json={"items": [{**MESSAGE, "id": i} for i in ids], "total_pages": 3},
            match=[AUTH, matchers.query_param_matcher({"page": str(number), "sender_id": "s1"})],
        )
    assert [m.id for m in messages.list(sender_id="s1")] == ["m1", "m2", "m3", "m4"]
    assert len(mock_api.calls) == 3
