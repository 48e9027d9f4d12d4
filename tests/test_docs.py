"""The documentation's code, run: every Python block of the guide, of "Writing datasources" and of the
incremental guide is exercised.

How a block says what exercises it: an HTML comment on the line right before its fence (invisible on the
built site).

- ``<!-- docs-test: models -->`` (guide): a tutorial model block; it must be the verbatim tutorial models of
  ``tests/testapp/models.py`` and ``example_project/constituencies/models.py`` (compared as syntax trees, so
  comments and layout do not count).
- ``<!-- docs-test: NAME -->``: a block run by the test below declared with ``@exercises(page, NAME)``.
- ``<!-- docs-test: module -->`` ("Writing datasources"): a block titled ``app/<path>.py``; it is executed as
  the module ``app.<path>`` before every scenario, so other blocks can import it.
- ``<!-- docs-test: scenario NAME -->``: the blocks of one scenario run in one namespace, in page order, after
  the scenario's responses are registered with ``responses``; ``test_*`` functions they define are then called.
- ``<!-- docs-test: response NAME -->``: a ``json`` or ``http`` block titled ``METHOD URL`` is the answer to
  that request in scenario NAME; every one must be requested.
- ``<!-- docs-test: skip (reason) -->``: not run; the reason is required.

A Python block with no comment, or whose comment nothing handles, fails :func:`test_every_python_block_is_exercised`.

Other pages are checked where they can go stale: the getting-started model (``first-model``) against the
guide's, the error messages of ``errors.md`` (``error-messages``) against the real ones, ``settings.md``
against ``DEFAULTS``, ``errors.md`` against the exception hierarchy, the API page against ``__all__``; and
promises made on two pages are checked to be made in the same words (``PROMISES``).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pytest
import responses
from responses import matchers

import pyck
from pyck.core import records
from pyck.core.conf import DEFAULTS
from pyck.core.datasources import Datasource, InvalidResourceError, NotFoundError, RestDatasource

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDE = "guide/datasources.md"
WRITING = "writing-datasources.md"
INCREMENTAL = "guide/incremental.md"
PUSH = "guide/push.md"
WEBHOOKS = "guide/webhooks.md"
SHEETS = "datasources/google-sheets.md"
AIRTABLE = "datasources/airtable.md"
STRIPE = "datasources/stripe.md"
TESTED_PAGES = (GUIDE, WRITING, INCREMENTAL, PUSH, WEBHOOKS, SHEETS, AIRTABLE, STRIPE)

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_DIRECTIVE = re.compile(r"^<!--\s*docs-test:\s*(?P<text>.*?)\s*-->\s*$")
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')


@dataclass(frozen=True)
class Block:
    """One fenced code block of a docs page."""

    page: str
    line: int
    lang: str
    title: str | None
    code: str
    directive: str | None

    def __str__(self) -> str:
        return f"docs/{self.page}:{self.line} ({self.lang} block{f' {self.title!r}' if self.title else ''})"


def blocks(page: str) -> list[Block]:
    """Every fenced block of ``docs/<page>``, with the ``docs-test`` directive on the line before it."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1] if match.start() else ""
        directive = _DIRECTIVE.match(before)
        title = _TITLE.search(match["attrs"])
        found.append(
            Block(
                page=page,
                line=line,
                lang=match["lang"],
                title=title["title"] if title else None,
                code=match["code"],
                directive=directive["text"] if directive else None,
            )
        )
    return found


def python_blocks(page: str) -> list[Block]:
    return [b for b in blocks(page) if b.lang == "python"]


def named(page: str, name: str) -> list[Block]:
    """The blocks of ``page`` whose directive is exactly ``name``; fails if there are none."""
    found = [b for b in blocks(page) if b.directive == name]
    assert found, f"docs/{page} has no block marked <!-- docs-test: {name} -->"
    return found


_EXERCISED: set[tuple[str, str]] = set()


def exercises(page: str, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare that the decorated test runs the blocks of ``page`` marked ``<!-- docs-test: name -->``."""

    def decorator(test: Callable[..., Any]) -> Callable[..., Any]:
        _EXERCISED.add((page, name))
        return test

    return decorator


def run(code: str, namespace: dict[str, Any] | None = None, *, where: str = "docs") -> dict[str, Any]:
    """Execute ``code`` in ``namespace`` (a fresh one by default) and return the namespace."""
    namespace = namespace if namespace is not None else {"__name__": "docs_example"}
    exec(compile(code, f"<{where}>", "exec", dont_inherit=True), namespace)
    return namespace


# --- Every block is exercised ----------------------------------------------------------------------------


def _scenario_names(page: str) -> list[str]:
    names = []
    for block in blocks(page):
        if block.directive and block.directive.startswith("scenario "):
            name = block.directive.split(None, 1)[1]
            if name not in names:
                names.append(name)
    return names


@pytest.mark.parametrize("page", TESTED_PAGES)
def test_every_python_block_is_exercised(page: str) -> None:
    scenarios = _scenario_names(page) if page == WRITING else []
    problems = []
    for block in python_blocks(page):
        directive = block.directive
        if directive is None:
            problems.append(f"{block}: no <!-- docs-test: ... --> comment on the line before it")
        elif directive.startswith("skip"):
            if not re.fullmatch(r"skip \(\s*\S.*\)", directive):
                problems.append(f"{block}: a skipped block must say why: <!-- docs-test: skip (reason) -->")
        elif page == GUIDE and directive == "models":
            continue
        elif page == WRITING and directive == "module":
            if not (block.title or "").startswith("app/") or not block.title.endswith(".py"):
                problems.append(f"{block}: a module block needs title=\"app/<path>.py\"")
        elif page == WRITING and directive.startswith("scenario "):
            continue  # run by test_scenario, parametrized over every scenario on the page
        elif (page, directive) not in _EXERCISED:
            problems.append(f"{block}: nothing exercises <!-- docs-test: {directive} -->")
    for block in blocks(page):
        if block.directive and block.directive.startswith("response "):
            name = block.directive.split(None, 1)[1]
            if block.lang not in ("json", "http") or not re.fullmatch(r"[A-Z]+ \S+", block.title or ""):
                problems.append(f"{block}: a response block is json or http, titled \"METHOD URL\"")
            if name not in scenarios:
                problems.append(f"{block}: no scenario {name!r} uses this response")
    assert not problems, "\n".join(problems)


def test_the_coverage_check_catches_an_unmarked_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = "extra.md"
    (tmp_path / page).write_text('Text\n\n```python\nprint("new")\n```\n\n<!-- docs-test: skip () -->\n```python\nx\n```\n')
    monkeypatch.setattr(sys.modules[__name__], "DOCS", tmp_path)
    with pytest.raises(AssertionError) as raised:
        test_every_python_block_is_exercised(page)
    assert "docs/extra.md:3" in str(raised.value) and "no <!-- docs-test" in str(raised.value)
    assert "docs/extra.md:8" in str(raised.value) and "must say why" in str(raised.value)


# --- The guide's tutorial models -------------------------------------------------------------------------


def _tree(source: str) -> list[ast.stmt]:
    return ast.parse(source).body


def _classes(statements: list[ast.stmt]) -> dict[str, list[str]]:
    return {s.name: [ast.dump(b) for b in s.body] for s in statements if isinstance(s, ast.ClassDef)}


def _imports(statements: list[ast.stmt]) -> list[str]:
    return [ast.dump(s) for s in statements if isinstance(s, (ast.Import, ast.ImportFrom))]


def test_the_guide_model_blocks_are_the_tutorial_models() -> None:
    first, full = (b.code for b in named(GUIDE, "models"))
    example = (ROOT / "example_project" / "constituencies" / "models.py").read_text(encoding="utf-8")
    testapp = (ROOT / "tests" / "testapp" / "models.py").read_text(encoding="utf-8")

    # The complete block is the example project's models module, statement for statement.
    assert [ast.dump(s) for s in _tree(full)] == [ast.dump(s) for s in _tree(example)]
    # The test app holds the same three classes verbatim (next to test-only models) and the same imports.
    tutorial = _classes(_tree(full))
    assert list(tutorial) == ["Constituency", "MP", "Party"]
    test_models = _classes(_tree(testapp))
    for name, body in tutorial.items():
        assert test_models[name] == body, f"tests/testapp/models.py: {name} differs from the guide's"
    assert set(_imports(_tree(full))) <= set(_imports(_tree(testapp)))
    # The first block is the same Constituency before the relationship is added.
    assert _imports(_tree(first)) == _imports(_tree(full))
    (constituency,) = _classes(_tree(first)).items()
    assert constituency[0] == "Constituency"
    assert constituency[1] == tutorial["Constituency"][: len(constituency[1])]
    assert len(constituency[1]) == len(tutorial["Constituency"]) - 1


def test_the_getting_started_model_is_the_guide_model() -> None:
    """Same model, so that following the guide after getting started makes no migration ("Alter field")."""
    (block,) = [b for b in blocks("getting-started.md") if b.directive == "first-model"]
    guide_first = named(GUIDE, "models")[0].code
    assert [ast.dump(s) for s in _tree(block.code)] == [ast.dump(s) for s in _tree(guide_first)]


@exercises("getting-started.md", "admin")
def test_the_getting_started_admin_registers_a_synced_model_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin block, run with the tutorial's `Constituency` (tests.testapp) on a fresh admin site."""
    from django.contrib import admin
    from django.contrib.admin import sites

    from pyck.core.admin import SyncedModelAdmin
    from tests.testapp.models import Constituency

    site = admin.AdminSite(name="docs")
    monkeypatch.setattr(sites, "site", site)
    (block,) = named("getting-started.md", "admin")
    code = block.code.replace("from .models import Constituency", "from tests.testapp.models import Constituency")
    run(code, where="getting-started.md admin")
    model_admin = site.get_model_admin(Constituency)
    assert isinstance(model_admin, SyncedModelAdmin) and "sync_now" in model_admin.actions


@pytest.mark.django_db
def test_the_guide_tutorial_syncs_with_run_cron_tasks_once() -> None:
    """The guide's commands, on its models (tests.testapp), against the recorded UK Parliament API."""
    from django.core.management import call_command
    from django.test import override_settings

    from pyck.geo.territories.uk.replay import ReplayServer
    from tests.testapp.models import MP, Constituency, Party

    commands = [b.code.strip() for b in blocks(GUIDE) if b.lang == "bash"]
    assert "python manage.py run_cron_tasks --once" in commands
    with ReplayServer() as server, override_settings(PYCK=server.pyck_settings()):
        call_command("run_cron_tasks", "--once", "testapp.Party", "testapp.MP", "testapp.Constituency", verbosity=0)

    constituencies = list(Constituency.objects.select_related("current_mp__latest_party"))
    assert constituencies and Party.objects.exists() and MP.objects.exists()
    for constituency in constituencies:
        assert constituency.name and constituency.current_mp is not None
        assert constituency.current_mp.name and constituency.current_mp.thumbnail_url
        assert constituency.current_mp.latest_party is not None
        assert constituency.current_mp.latest_party.background_colour


# --- The guide's ZapMessage examples ---------------------------------------------------------------------


class _ZapResource:
    """The fake ``zapmessage`` client's base class: ``get(id, api_key=)`` and ``filter(api_key=, **filter)``."""

    store: ClassVar[dict[str, Any]] = {}
    calls: ClassVar[list[tuple[str, Any, dict[str, Any]]]] = []

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    @classmethod
    def get(cls, id: str, *, api_key: str) -> Any:
        _ZapResource.calls.append((f"{cls.__name__}.get", id, {"api_key": api_key}))
        return cls.store.get(id)

    @classmethod
    def filter(cls, *, api_key: str, **filter: Any) -> list[Any]:
        _ZapResource.calls.append((f"{cls.__name__}.filter", None, {"api_key": api_key, **filter}))
        return [r for r in cls.store.values() if all(getattr(r, k) == v for k, v in filter.items())]


@pytest.fixture
def zapmessage(monkeypatch: pytest.MonkeyPatch, settings: Any) -> types.ModuleType:
    """A fake ``zapmessage`` client library, importable for the duration of a test."""
    module = types.ModuleType("zapmessage")
    module.Resource = _ZapResource  # type: ignore[attr-defined]
    for name in ("Message", "MessageSender", "MessageCategory"):
        setattr(module, name, type(name, (_ZapResource,), {"store": {}}))
    module.Message.store = {  # type: ignore[attr-defined]
        "m1": module.Message(id="m1", sender_id="s1", content="hello"),  # type: ignore[attr-defined]
        "m2": module.Message(id="m2", sender_id="s2", content="bye"),  # type: ignore[attr-defined]
    }
    module.MessageSender.store = {"s1": module.MessageSender(id="s1", name="Ada")}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zapmessage", module)
    monkeypatch.setattr(_ZapResource, "calls", [])
    settings.ZAPMESSAGE_API_KEY = "zap-key"
    return module


@exercises(GUIDE, "zapmessage-client")
def test_guide_client_library_example(zapmessage: types.ModuleType, settings: Any) -> None:
    (block,) = named(GUIDE, "zapmessage-client")
    example = run(block.code, where=str(block))
    messages, senders, categories = example["messages"], example["senders"], example["categories"]
    assert all(isinstance(d, Datasource) for d in (messages, senders, categories))

    assert messages.get("m1").content == "hello"
    assert senders.get("s1").name == "Ada"
    assert [m.id for m in messages.list(sender_id="s2")] == ["m2"]
    assert list(categories.list()) == []
    assert _ZapResource.calls == [
        ("Message.get", "m1", {"api_key": "zap-key"}),
        ("MessageSender.get", "s1", {"api_key": "zap-key"}),
        ("Message.filter", None, {"api_key": "zap-key", "sender_id": "s2"}),
        ("MessageCategory.filter", None, {"api_key": "zap-key"}),
    ]

    # A missing record is pyck's NotFoundError, naming the record; the key is read at call time.
    settings.ZAPMESSAGE_API_KEY = "rotated"
    with pytest.raises(NotFoundError, match="record id 'm9'") as raised:
        messages.get("m9")
    assert isinstance(raised.value, example["ZapMessageResource"].NotFoundError)
    assert _ZapResource.calls[-1] == ("Message.get", "m9", {"api_key": "rotated"})


ZAP = "https://api.zapmessage.io"
ZAP_MESSAGE = {"id": "m1", "sender_id": "s1", "category_id": "c1", "timestamp": "2024-07-04T10:00:00", "content": "hi"}
ZAP_AUTH = matchers.header_matcher({"Authorization": "Bearer zap-key"})


@pytest.fixture
def zap_rest(settings: Any) -> dict[str, Any]:
    settings.ZAPMESSAGE_API_KEY = "zap-key"
    (block,) = named(GUIDE, "zapmessage-rest")
    return run(block.code, where=str(block))


@exercises(GUIDE, "zapmessage-rest")
def test_guide_rest_example(zap_rest: dict[str, Any], mock_api: responses.RequestsMock) -> None:
    messages, senders, categories = (zap_rest[n] for n in ("messages", "senders", "categories"))
    assert isinstance(messages, RestDatasource)
    mock_api.get(f"{ZAP}/messages/m1", json=ZAP_MESSAGE, match=[ZAP_AUTH])
    mock_api.get(f"{ZAP}/senders", json=[{"id": "s1", "name": "Ada"}, {"id": "s2", "name": "Bo"}], match=[ZAP_AUTH])
    mock_api.get(f"{ZAP}/categories", json=[{"id": "c1", "name": "News"}], match=[ZAP_AUTH])

    assert messages.get("m1") == zap_rest["Message"]("m1", "s1", "c1", datetime(2024, 7, 4, 10), "hi")
    assert [s.name for s in senders.list()] == ["Ada", "Bo"]
    assert [c.name for c in categories.list()] == ["News"]


@exercises(GUIDE, "zapmessage-rest-paginate")
@exercises(GUIDE, "zapmessage-rest-paginator")
@pytest.mark.parametrize("name", ["zapmessage-rest-paginate", "zapmessage-rest-paginator"])
def test_guide_paginated_rest_examples_walk_every_page(
    name: str, zap_rest: dict[str, Any], mock_api: responses.RequestsMock
) -> None:
    (block,) = named(GUIDE, name)
    run(block.code, zap_rest, where=str(block))
    messages = zap_rest["ZapMessageResource"](path="/messages", resource_type=zap_rest["Message"])
    for number, ids in [(1, ["m1", "m2"]), (2, ["m3"]), (3, ["m4"])]:
        mock_api.get(
            f"{ZAP}/messages",
            json={"items": [{**ZAP_MESSAGE, "id": i} for i in ids], "total_pages": 3},
            match=[ZAP_AUTH, matchers.query_param_matcher({"page": str(number), "sender_id": "s1"})],
        )
    assert [m.id for m in messages.list(sender_id="s1")] == ["m1", "m2", "m3", "m4"]
    assert len(mock_api.calls) == 3


# --- The incremental guide ----------------------------------------------------------------------------------

HELPDESK = "https://helpdesk.example.com/api"


class _StandInModel:
    """Takes the place of ``SyncedModel`` when the incremental guide's model classes are built: their
    ``sync_config`` and fields are evaluated as written, but no Django model is registered."""


def _run_without_models(block: Block, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run ``block`` with its classes based on ``SyncedModel`` based on :class:`_StandInModel` instead."""
    from django.db import models

    from tests.testapp.resources import TicketResource

    tree = ast.parse(block.code)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            node.bases = [
                ast.Name("_StandInModel", ast.Load()) if isinstance(base, ast.Name) and base.id == "SyncedModel" else base
                for base in node.bases
            ]
    namespace.setdefault("__name__", "docs_example")
    namespace.update(_StandInModel=_StandInModel, models=models, TicketResource=TicketResource)
    return run(ast.unparse(ast.fix_missing_locations(tree)), namespace, where=str(block))


@exercises(WRITING, "child-listing-models")
def test_the_child_listing_models_are_those_the_child_listing_tests_sync() -> None:
    """The page's ``Tag`` and ``Tagging`` are ``tests/children_support/models.py``'s, which
    ``tests/core/test_child_listings.py`` syncs against an Action Network-like API."""
    from tests.children_support import models as support

    (block,) = named(WRITING, "child-listing-models")
    documented = {n.name: ast.dump(n) for n in ast.parse(block.code).body if isinstance(n, ast.ClassDef)}
    source = Path(support.__file__).read_text()
    tested = {n.name: ast.dump(n) for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}
    assert documented == {name: tested[name] for name in documented}


@exercises(INCREMENTAL, "incremental-ticket")
def test_incremental_guide_ticket_example() -> None:
    from datetime import timezone as dt_timezone

    (block,) = named(INCREMENTAL, "incremental-ticket")
    namespace = _run_without_models(block, {})

    config = namespace["Ticket"].sync_config
    incremental = config.incremental
    assert config.datasource.url == f"{HELPDESK}/tickets"
    # "sent as ?updated_since=2026-11-27T10:00:00+00:00", starting two minutes (the lookback) before the cursor
    cursor = datetime(2026, 11, 27, 10, 2, tzinfo=dt_timezone.utc)
    assert incremental.format_value(incremental.since(cursor)) == "2026-11-27T10:00:00+00:00"
    assert incremental.param == "updated_since" and incremental.field == "updated_at"


@exercises(INCREMENTAL, "list-changed")
def test_incremental_guide_list_changed_example(mock_api: responses.RequestsMock) -> None:
    @dataclass
    class Contact:
        id: int
        name: str

    (block,) = named(INCREMENTAL, "list-changed")
    namespace = run(block.code, {"__name__": "docs_example", "RestDatasource": RestDatasource, "Contact": Contact}, where=str(block))
    contacts = namespace["Contacts"](base_url="https://crm.example.com/api", path="/contacts", resource_type=Contact)
    mock_api.get(
        "https://crm.example.com/api/contacts",
        json=[{"id": 1, "name": "Ann"}],
        match=[matchers.query_param_matcher({"q": "modified>=2026-11-01"})],
    )

    assert list(contacts.list_changed(datetime(2026, 11, 1, 9, 30))) == [Contact(1, "Ann")]


@exercises(INCREMENTAL, "partitions-callable")
def test_incremental_guide_partitions_example() -> None:
    from pyck.core.datasources import Incremental, SyncConfig

    branches = [types.SimpleNamespace(code="42"), types.SimpleNamespace(code="7")]
    branch = types.SimpleNamespace(objects=types.SimpleNamespace(all=lambda: branches))
    members = RestDatasource(base_url="https://members.example.com/api", path="/members")
    (block,) = named(INCREMENTAL, "partitions-callable")
    namespace = {"SyncConfig": SyncConfig, "Incremental": Incremental, "members": members, "Branch": branch}

    config = run(block.code, namespace, where=str(block))["sync_config"]

    assert config.get_partitions() == {"branch-42": {"branch": "42"}, "branch-7": {"branch": "7"}}
    branches.append(types.SimpleNamespace(code="9"))  # evaluated at each run
    assert list(config.get_partitions()) == ["branch-42", "branch-7", "branch-9"]


@exercises(INCREMENTAL, "page-ranges")
def test_incremental_guide_page_ranges_example(mock_api: responses.RequestsMock) -> None:
    """"With 1,000 pages that gives pages-000-124, pages-125-249, … pages-875-end"."""
    (tickets_block,) = named(INCREMENTAL, "incremental-ticket")
    (block,) = named(INCREMENTAL, "page-ranges")
    namespace = _run_without_models(tickets_block, {})
    _run_without_models(block, namespace)
    mock_api.get(f"{HELPDESK}/tickets", json={"items": [], "total": 100_000})  # 1,000 pages of 100

    partitions = namespace["Ticket"].sync_config.get_partitions()

    assert len(partitions) == 8
    assert list(partitions)[:2] == ["pages-000-124", "pages-125-249"] and list(partitions)[-1] == "pages-875-end"
    assert len(mock_api.calls) == 1 and "offset=0" in mock_api.calls[0].request.url


# --- The push guide ---------------------------------------------------------------------------------------


@exercises(PUSH, "push-webhook")
@pytest.mark.django_db
def test_push_guide_webhook_example(monkeypatch: pytest.MonkeyPatch, rf: Any) -> None:
    from pyck.core.datasources import SyncRun
    from tests.testapp import models as tutorial_models

    monkeypatch.setitem(sys.modules, "app", _package("app"))
    monkeypatch.setitem(sys.modules, "app.models", tutorial_models)
    (block,) = named(PUSH, "push-webhook")
    view = run(block.code, where=str(block))["helpdesk_webhook"]
    Ticket = tutorial_models.Ticket
    ticket = {"id": 7, "subject": "Printer on fire", "status": "open", "updated_at": "2026-11-27T10:00:00+00:00"}

    def post(event: dict[str, Any]) -> Any:
        return view(rf.post("/hooks/helpdesk", data=json.dumps(event), content_type="application/json"))

    assert post({"type": "ticket.created", "ticket": ticket}).status_code == 200
    assert Ticket.objects.get(external_id=7).subject == "Printer on fire"
    Ticket.objects.filter(external_id=7).update(triage_note="mine")
    assert post({"type": "ticket.updated", "ticket": {**ticket, "status": "closed"}}).status_code == 200
    assert Ticket.objects.values_list("status", "triage_note").get(external_id=7) == ("closed", "mine")
    assert post({"type": "ticket.deleted", "id": 7}).status_code == 200
    assert not Ticket.objects.exists()
    runs = SyncRun.objects.filter(model="testapp.Ticket").order_by("pk")
    assert [(run.mode, run.created, run.updated, run.deleted) for run in runs] == [
        ("push", 1, 0, 0), ("push", 0, 1, 0), ("push", 0, 0, 1)
    ]



@exercises(PUSH, "records-changed")
@pytest.mark.django_db(transaction=True)
def test_push_guide_records_changed_example(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyck.core.datasources import apply_records
    from pyck.core.signals import records_changed
    from tests.testapp import models as tutorial_models

    monkeypatch.setitem(sys.modules, "app", _package("app"))
    monkeypatch.setitem(sys.modules, "app.models", tutorial_models)
    (block,) = named(PUSH, "records-changed")
    namespace = run(block.code, where=str(block))
    Ticket = tutorial_models.Ticket
    deserialize = Ticket.sync_config.datasource.deserialize
    ticket = {"id": 7, "subject": "Printer on fire", "status": "open", "updated_at": "2026-11-27T10:00:00+00:00"}
    try:
        apply_records(Ticket, [deserialize(ticket)])
        apply_records(Ticket, [deserialize({**ticket, "status": "closed"})], deleted=[8])
        apply_records(Ticket, [], deleted=[7])
    finally:
        records_changed.disconnect(namespace["ticket_rows_changed"], sender=Ticket)
    assert namespace["changed_tickets"] == [(1, 0, 0), (0, 1, 0), (0, 0, 1)]


@exercises(WEBHOOKS, "webhooks-receiver")
@pytest.mark.django_db
def test_webhooks_guide_receiver_example(monkeypatch: pytest.MonkeyPatch, client: Any, settings: Any) -> None:
    from pyck.core.webhooks import get_receiver, register_receiver
    from pyck.core.webhooks.processing import process_inbox
    from tests.testapp import models as tutorial_models
    from tests.webhook_support.signing import SECRET, sign

    monkeypatch.setitem(sys.modules, "app", _package("app"))
    monkeypatch.setitem(sys.modules, "app.models", tutorial_models)
    settings.HELPDESK_WEBHOOK_SECRET = SECRET
    (block,) = named(WEBHOOKS, "webhooks-receiver")
    before = get_receiver("helpdesk")
    try:
        run(block.code, where=str(block))
        ticket = {"id": 7, "subject": "Printer on fire", "status": "open", "updated_at": "2026-11-27T10:00:00+00:00"}
        body = json.dumps({"changes": [{"model": "testapp.Ticket", "id": 7, "record": ticket}]}).encode()
        answer = client.post("/webhooks/helpdesk/", data=body, content_type="application/json", headers=sign("evt_1", body))
        assert answer.status_code == 200
        assert process_inbox().applied == 1
    finally:
        if before is not None:
            register_receiver(before)
    assert tutorial_models.Ticket.objects.get(external_id=7).subject == "Printer on fire"

# --- "Writing datasources": scenarios against the JSON shown ---------------------------------------------

# --- The Airtable page (docs/datasources/airtable.md) ----------------------------------------------------


@pytest.fixture
def airtable_app(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The page's `app/datasources.py`, run as the module `app.datasources`; `app.models` is the test models
    (tests/airtable_support, the page's models: see the test below)."""
    from tests.airtable_support import models

    (block,) = named(AIRTABLE, "airtable-datasources")
    module = types.ModuleType("app.datasources")
    monkeypatch.setitem(sys.modules, "app", _package("app"))
    monkeypatch.setitem(sys.modules, "app.datasources", module)
    monkeypatch.setitem(sys.modules, "app.models", models)
    run(block.code, module.__dict__, where=str(block))
    return module


@exercises(AIRTABLE, "airtable-datasources")
@exercises(AIRTABLE, "airtable-models")
def test_the_airtable_page_shows_the_models_and_resources_its_tests_sync(airtable_app: types.ModuleType) -> None:
    """Its resources and models are those of tests/airtable_support, which tests/contrib/airtable syncs; its
    datasources, built as shown, talk to Airtable itself with the token of the setting."""
    (resources,) = named(AIRTABLE, "airtable-datasources")
    (models,) = named(AIRTABLE, "airtable-models")
    support = ROOT / "tests" / "airtable_support"
    for block, module in ((resources, "resources.py"), (models, "models.py")):
        shown, tested = _classes(_tree(block.code)), _classes(_tree((support / module).read_text(encoding="utf-8")))
        assert shown and shown == tested, f"{block}: its classes differ from tests/airtable_support/{module}"
    for source in (airtable_app.teams, airtable_app.members):
        assert source.base_url == "https://api.airtable.com/v0" and source.api_key is None
        assert source.rate_limit_key == "airtable:appTESTBASE000001"


@exercises(AIRTABLE, "airtable-settings")
def test_the_airtable_settings_read_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRTABLE_API_KEY", "patFROMENV")
    (block,) = named(AIRTABLE, "airtable-settings")
    namespace = run(block.code, where=str(block))
    assert namespace["AIRTABLE_API_KEY"] == "patFROMENV"
    assert namespace["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


@pytest.mark.django_db
@exercises(AIRTABLE, "airtable-first-sync")
@exercises(AIRTABLE, "airtable-replay")
def test_the_airtable_page_syncs_and_tests_against_the_local_server(
    airtable_app: types.ModuleType, monkeypatch: pytest.MonkeyPatch, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyck.contrib.airtable.replay import AirtableServer
    from tests.airtable_support import models, resources

    settings.AIRTABLE_API_KEY = resources.TOKEN
    with AirtableServer(resources.TOKEN) as server:
        teams = server.add_table(resources.BASE, "Teams", [{"id": "recRED00000000001", "Name": "Red"}])
        server.add_table(resources.BASE, "Members", [{"Name": "Ada", "Team": ["recRED00000000001"], "Groups": ["recRED00000000001"]}])
        for source in (resources.teams, resources.members):
            monkeypatch.setattr(source, "base_url", server.base_url)
        (first_sync,) = named(AIRTABLE, "airtable-first-sync")
        run(first_sync.code, where=str(first_sync))
        assert teams.records and server.rejected == {}
    assert capsys.readouterr().out.split("\n")[:2] == ["airtable_support.Team succeeded 1", "airtable_support.Member succeeded 1"]
    ada = models.Member.objects.get()
    assert (ada.name, ada.team.name, [g.name for g in ada.groups.all()]) == ("Ada", "Red", ["Red"])
    (replay,) = named(AIRTABLE, "airtable-replay")
    namespace = run(replay.code, where=str(replay))
    namespace["test_members_are_listed"](monkeypatch)


@exercises(AIRTABLE, "airtable-webhook-settings")
def test_the_airtable_webhook_secret_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRTABLE_MEMBERS_WEBHOOK_SECRET", "c2VjcmV0")
    (block,) = named(AIRTABLE, "airtable-webhook-settings")
    assert run(block.code, where=str(block))["AIRTABLE_MEMBERS_WEBHOOK_SECRET"] == "c2VjcmV0"


@pytest.mark.django_db
@exercises(AIRTABLE, "airtable-webhook-receiver")
@exercises(AIRTABLE, "airtable-webhook-cron")
def test_the_airtable_webhook_receiver_and_refresh_task_as_shown(
    airtable_app: types.ModuleType, monkeypatch: pytest.MonkeyPatch, settings: Any, client: Any
) -> None:
    """The page's receiver, registered as shown, applies a signed ping's changes; its cron task refreshes."""
    # Not at the top: as the other page tests, imported once Django's apps (the test models) are ready.
    from pyck.contrib.airtable.replay import AirtableServer
    from pyck.core.cron.jobs import get_cron_job, unregister_cron
    from pyck.core.webhooks import unregister_receiver
    from pyck.core.webhooks.processing import process_inbox
    from tests.airtable_support import models, resources

    with AirtableServer(resources.TOKEN, rate=None) as server:
        teams = server.add_table(resources.BASE, "Teams", table_id="tblTEAMS000000001")
        server.add_table(resources.BASE, "Members", table_id="tblMEMBERS0000001")
        created = server.add_webhook(resources.BASE, webhook_id="achW1e2B3h4O5o6K7")
        settings.AIRTABLE_MEMBERS_WEBHOOK_SECRET = created["macSecretBase64"]
        for source in (resources.teams, resources.members):
            monkeypatch.setattr(source, "base_url", server.base_url)
        (receiver,) = named(AIRTABLE, "airtable-webhook-receiver")
        (cron,) = named(AIRTABLE, "airtable-webhook-cron")
        try:
            run(receiver.code, where=str(receiver))
            run(cron.code, where=str(cron))
            server.put(teams, {"id": "recRED00000000001", "Name": "Red"})
            body, headers = server.notification(created["id"])
            answer = client.post("/webhooks/airtable-members/", data=body, content_type="application/json", headers=headers)
            assert answer.status_code == 200
            assert process_inbox().applied == 1
            get_cron_job("airtable:refresh-webhooks").func()
        finally:
            unregister_receiver("airtable-members")
            unregister_cron("airtable:refresh-webhooks")
        assert server.webhooks[created["id"]].refreshed == 1
    assert list(models.Team.objects.values_list("name", flat=True)) == ["Red"]


# Settings the scenarios' code reads (the page assumes a project that has them).
SCENARIO_SETTINGS: dict[str, dict[str, Any]] = {
    "auth": {"TICKETING_TOKEN": "tk-0123456789abcdef", "LEGACY_ACCOUNT": "acct-1234"},
}


def _package(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = []  # type: ignore[attr-defined]
    return module


@pytest.fixture
def doc_modules(monkeypatch: pytest.MonkeyPatch) -> dict[str, types.ModuleType]:
    """The page's ``module`` blocks as importable ``app.*`` modules; ``app.models`` is the tutorial's models."""
    from tests.testapp import models as tutorial_models

    made: dict[str, types.ModuleType] = {}
    monkeypatch.setitem(sys.modules, "app", _package("app"))
    monkeypatch.setitem(sys.modules, "app.models", tutorial_models)
    for block in named(WRITING, "module"):
        dotted = block.title.removesuffix(".py").replace("/", ".")  # type: ignore[union-attr]
        parts = dotted.split(".")
        for depth in range(2, len(parts)):
            parent = ".".join(parts[:depth])
            if parent not in sys.modules:
                monkeypatch.setitem(sys.modules, parent, _package(parent))
        module = types.ModuleType(dotted)
        monkeypatch.setitem(sys.modules, dotted, module)
        run(block.code, module.__dict__, where=str(block))
        made[dotted] = module
    return made


@dataclass
class _Answer:
    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: Any


def _answer(block: Block) -> _Answer:
    method, url = block.title.split(" ", 1)  # type: ignore[union-attr]
    if block.lang == "json":
        return _Answer(method, url, 200, {}, json.loads(block.code))
    head, _, body = block.code.partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in header_lines)
    return _Answer(method, url, int(status_line.split()[1]), headers, json.loads(body) if body.strip() else None)


def _register(mock: responses.RequestsMock, answer: _Answer) -> None:
    parts = urlsplit(answer.url)
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-type"}
    mock.add(
        answer.method,
        urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
        status=answer.status,
        headers=headers,
        json=answer.body,
        match=[matchers.query_param_matcher(dict(parse_qsl(parts.query, keep_blank_values=True)))],
    )


def run_scenario(
    name: str, *, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> tuple[dict[str, Any], list[Any]]:
    """Run scenario ``name`` of "Writing datasources"; return its namespace and the HTTP calls it made.

    Fails if a code block raises (its asserts included), if a request has no registered answer, or if an
    answer shown on the page is never requested.
    """
    for key, value in SCENARIO_SETTINGS.get(name, {}).items():
        setattr(settings, key, value)
    code = [b for b in blocks(WRITING) if b.directive == f"scenario {name}"]
    answers = [_answer(b) for b in blocks(WRITING) if b.directive == f"response {name}"]
    assert code, f"no scenario {name!r} in docs/{WRITING}"
    converters = set(records.CONVERTERS)
    namespace: dict[str, Any] = {"__name__": f"docs_{name.replace('-', '_')}"}
    calls: list[Any] = []
    try:
        with contextlib.ExitStack() as stack:
            if answers:
                # Without answers on the page the scenario fakes HTTP itself (or makes no request).
                mock = stack.enter_context(responses.RequestsMock(assert_all_requests_are_fired=True))
                for answer in answers:
                    _register(mock, answer)
            for block in code:
                run(block.code, namespace, where=str(block))
            fixtures = {"monkeypatch": monkeypatch, "settings": settings}
            for test_name, test in list(namespace.items()):
                if test_name.startswith("test_") and inspect.isfunction(test):
                    wanted = inspect.signature(test).parameters
                    unknown = set(wanted) - set(fixtures)
                    assert not unknown, f"{test_name} asks for fixtures this harness does not provide: {unknown}"
                    test(**{p: fixtures[p] for p in wanted})
            if answers:
                calls = list(mock.calls)
    finally:
        for added in set(records.CONVERTERS) - converters:
            records.unregister_converter(added)
    return namespace, calls


@pytest.mark.django_db
@pytest.mark.parametrize("name", _scenario_names(WRITING))
def test_scenario(
    name: str, doc_modules: dict[str, types.ModuleType], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    run_scenario(name, monkeypatch=monkeypatch, settings=settings)


def test_the_scenarios_cover_every_paginator() -> None:
    from pyck.core import pagination

    code = "\n".join(b.code for b in python_blocks(WRITING))
    for name in pagination.__all__:
        if name.endswith("Paginator") and name != "Paginator":
            assert f"{name}(" in code, f"docs/{WRITING} has no example of {name}"


def test_a_scenario_fails_when_the_page_and_the_code_disagree(
    doc_modules: dict[str, types.ModuleType], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    original = blocks

    def with_a_wrong_total(page: str) -> list[Block]:
        found = original(page)
        return [
            Block(b.page, b.line, b.lang, b.title, b.code.replace('"total_pages": 2', '"total_pages": 1'), b.directive)
            for b in found
        ]

    monkeypatch.setattr(sys.modules[__name__], "blocks", with_a_wrong_total)
    # Page 2 is then never requested: the scenario's assert and the unrequested answer both fail it.
    with pytest.raises(AssertionError):
        run_scenario("page-number", monkeypatch=monkeypatch, settings=settings)


@pytest.mark.django_db
def test_auth_scenario_sends_the_credentials_and_keeps_them_out_of_errors(
    doc_modules: dict[str, types.ModuleType], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    namespace, calls = run_scenario("auth", monkeypatch=monkeypatch, settings=settings)
    assert calls[0].request.headers["Authorization"] == "Bearer tk-0123456789abcdef"
    assert "account=acct-1234" in calls[1].request.url

    legacy = namespace["legacy_events"]
    with responses.RequestsMock() as mock:
        mock.get("https://legacy.example.com/events.json/9", status=404)
        with pytest.raises(NotFoundError) as raised:
            legacy.get(9)
    assert "acct-1234" not in str(raised.value) and "account=***" in str(raised.value)


@pytest.mark.django_db
def test_retries_scenario_waits_as_the_server_asks(
    doc_modules: dict[str, types.ModuleType], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    import pyck.core.http

    waits: list[float] = []
    monkeypatch.setattr(pyck.core.http, "_sleep", waits.append)
    _, calls = run_scenario("retries", monkeypatch=monkeypatch, settings=settings)
    assert [c.response.status_code for c in calls] == [503, 200]
    assert waits == [3.0]


# --- Settings --------------------------------------------------------------------------------------------


def _settings_sections() -> dict[str, str]:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    parts = re.split(r"^### `?([A-Z][A-Z0-9_]+)`?\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_settings_page_documents_every_setting_with_its_default() -> None:
    sections = _settings_sections()
    assert sorted(sections) == sorted(DEFAULTS), "docs/settings.md must have one '### KEY' section per DEFAULTS key"
    for key, default in DEFAULTS.items():
        shown = repr(default).replace(pyck.__version__, "<version>")
        assert f"Default: `{shown}`" in sections[key], f"docs/settings.md: {key} should say Default: `{shown}`"


@exercises(WRITING, "settings-fragment")
def test_settings_fragments_name_real_settings() -> None:
    fragments = named(WRITING, "settings-fragment")
    for block in fragments:
        namespace = run(block.code, where=str(block))
        assert set(namespace["PYCK"]) <= set(DEFAULTS), f"{block}: unknown settings {set(namespace['PYCK']) - set(DEFAULTS)}"


# --- Errors and the API reference ------------------------------------------------------------------------


def test_the_errors_page_covers_every_exception() -> None:
    from pyck.core import exceptions

    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#+ `?(\w+)`?", text, flags=re.MULTILINE))
    assert set(exceptions.__all__) <= headings, f"docs/errors.md lacks {set(exceptions.__all__) - headings}"


def test_the_errors_page_lists_every_system_check() -> None:
    """The ids in the table of "System checks" are those pyck's checks emit, no more, no fewer."""
    source = (ROOT / "pyck" / "core" / "checks.py").read_text(encoding="utf-8")
    emitted = set(re.findall(r'id="(pyck\.[CEWID]\d{3})"', source))
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(pyck\.[CEWID]\d{3})` \|", text, flags=re.MULTILINE)
    assert len(listed) == len(set(listed)), "docs/errors.md lists a check twice"
    assert set(listed) == emitted, f"docs/errors.md: missing {emitted - set(listed)}, not emitted {set(listed) - emitted}"


def test_the_api_page_covers_the_public_names() -> None:
    from pyck.core import datasources, exceptions

    text = (DOCS / "api" / "pyck.core.datasources.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#+ (\w+)\s*$", text, flags=re.MULTILINE))
    documented |= {line.rsplit(".", 1)[-1] for line in re.findall(r"^::: (\S+)", text, flags=re.MULTILINE)}
    if "::: pyck.core.exceptions" in text:
        documented |= set(exceptions.__all__)
    missing = set(datasources.__all__) - documented - {"ResourceT"}
    assert not missing, f"docs/api/pyck.core.datasources.md does not document {sorted(missing)}"


# --- Provided datasources: Google Sheets ------------------------------------------------------------------


def _without_docstring(source: str) -> list[str]:
    statements = _tree(source)
    if statements and isinstance(statements[0], ast.Expr) and isinstance(statements[0].value, ast.Constant):
        statements = statements[1:]
    return [ast.dump(s) for s in statements]


@exercises(SHEETS, "sheets-module")
@exercises(SHEETS, "sheets-models")
def test_the_sheets_page_code_is_what_the_sheets_tests_sync() -> None:
    (module,), (models_block,) = named(SHEETS, "sheets-module"), named(SHEETS, "sheets-models")
    support = ROOT / "tests" / "sheets_support"
    assert _without_docstring(module.code) == _without_docstring((support / "sheets.py").read_text(encoding="utf-8"))
    assert _without_docstring(models_block.code) == _without_docstring((support / "models.py").read_text(encoding="utf-8"))


@exercises(SHEETS, "sheets-settings")
def test_the_sheets_settings_read_the_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = named(SHEETS, "sheets-settings")
    monkeypatch.setenv("GOOGLE_SHEETS_API_KEY", "AIza-key")
    monkeypatch.delenv("GOOGLE_SHEETS_SERVICE_ACCOUNT", raising=False)
    namespace = run(block.code)
    assert namespace["GOOGLE_SHEETS_API_KEY"] == "AIza-key" and "GOOGLE_SHEETS_SERVICE_ACCOUNT" not in namespace
    monkeypatch.setenv("GOOGLE_SHEETS_SERVICE_ACCOUNT", json.dumps({"type": "service_account"}))
    assert run(block.code)["GOOGLE_SHEETS_SERVICE_ACCOUNT"] == {"type": "service_account"}


@exercises(SHEETS, "sheets-first-sync")
@pytest.mark.django_db(transaction=True)
def test_the_sheets_first_sync_runs_against_a_local_sheets_server(
    monkeypatch: pytest.MonkeyPatch, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Imported here: the server and the test app's modules are this test's alone.
    from benchmarks.sheets_server import SheetsServer
    from tests.sheets_support import models as sheet_models
    from tests.sheets_support.sheets import volunteers

    (block,) = named(SHEETS, "sheets-first-sync")
    header = ["Email", "Full name", "Hours", "Active", "Date joined", "Last shift"]
    with SheetsServer() as server:
        server.add_sheet(volunteers.spreadsheet_id, "Volunteers", [
            header,
            ["ann@example.org", "Ann Example", 12.5, True, datetime(2024, 1, 5), datetime(2024, 7, 1, 9, 15)],
            ["bob@example.org", "Bob Example", 3],
            ["cy@example.org", "Cy Example", "", False, datetime(2025, 2, 1)],
        ])
        server.api_keys.add("AIza-docs-key")
        settings.GOOGLE_SHEETS_API_KEY = "AIza-docs-key"
        monkeypatch.setattr(volunteers, "base_url", f"{server.url}/v4")
        volunteers.forget()
        monkeypatch.setitem(sys.modules, "volunteers", types.ModuleType("volunteers"))
        monkeypatch.setitem(sys.modules, "volunteers.models", sheet_models)
        run(block.code, where=str(block))
        volunteers.forget()
    printed = capsys.readouterr().out.splitlines()
    shown = [line.split("# ", 1)[1] for line in block.code.splitlines() if "# " in line]
    assert len(printed) == len(shown) == 2
    assert printed[0].split(" in ")[0] == shown[0].replace("volunteers.Volunteer", "sheets_support.Volunteer").split(" in ")[0]
    assert printed[1] == shown[1]


# --- Promises made on two pages ----------------------------------------------------------------------------

# Promises that the guide and "Guarantees" both make, in the same words, so that they cannot drift apart: the
# sentence, the pages that must make it, and what no page may say instead (what they once said).
PROMISES = [
    pytest.param(
        "A run whose process dies (killed, a lost machine) cannot record its outcome: its `SyncRun` stays "
        "*running* only until the next listing run of the same model and partition starts, which records it as "
        "*failed* and says why, whether or not it resumes it.",
        (INCREMENTAL, "guarantees.md"),
        ("never records its end", 'stays "running"', "is closed then as *failed*"),
        id="dead-runs",
    ),
]


def _prose(page: str) -> str:
    """The page's text with its lines joined, as it reads."""
    return " ".join((DOCS / page).read_text(encoding="utf-8").split())


@pytest.mark.parametrize(("promise", "pages", "retracted"), PROMISES)
def test_a_promise_two_pages_make_is_made_in_the_same_words(
    promise: str, pages: tuple[str, ...], retracted: tuple[str, ...]
) -> None:
    for page in pages:
        assert promise in _prose(page), f"docs/{page} no longer says: {promise}"
    for page in sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")):
        said = [text for text in retracted if text in _prose(page)]
        assert not said, f"docs/{page} says {said}, which contradicts: {promise}"


def _iter_links(page: str) -> Iterator[str]:
    yield from re.findall(r"\]\(([^)\s]+)\)", (DOCS / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", TESTED_PAGES)
def test_links_are_relative_md_links(page: str) -> None:
    """mkdocs checks the targets (strict build); this keeps the form: no site URLs that bypass the check."""
    for link in _iter_links(page):
        if link.startswith(("http://", "https://")):
            assert "pyck" not in urlsplit(link).netloc, link
            continue
        target = link.split("#", 1)[0]
        assert target.endswith(".md") or not target, f"docs/{page}: link {link!r} should point at a .md file"
        assert (DOCS / page).parent.joinpath(target).resolve().is_file() if target else True, link


def test_the_error_messages_shown_are_the_real_ones(mock_api: responses.RequestsMock) -> None:
    from pyck.geo.territories.uk import parliament

    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    (block,) = [b for b in blocks("errors.md") if b.directive == "error-messages"]
    api = "https://members-api.parliament.uk/api"
    mock_api.get(f"{api}/Members/999999", status=404)
    page = {"items": [{"value": {"id": 172, "latestParty": {"id": "15"}}, "links": []}], "totalResults": 1}
    mock_api.get(f"{api}/Members/Search", json=page)
    with pytest.raises(NotFoundError) as not_found:
        parliament.members.get(999999)
    with pytest.raises(InvalidResourceError) as invalid:
        list(parliament.members.list())
    assert block.code.splitlines() == [str(not_found.value), str(invalid.value)]
    assert text.count(block.code) == 1


@exercises(WRITING, "mapping-models")
def test_the_mapping_example_passes_the_checks_and_reads_list_items() -> None:
    """The `field_map` list indexes and `through_map` of "Writing datasources", defined in an isolated registry:
    no check message, and each mapped path read from an Action Network-like person."""
    from django.test.utils import isolate_apps  # Django's test utilities: only this test needs them

    from pyck.core.checks import check_synced_models
    from pyck.core.models import registry
    from pyck.core.sync.plan import get_plan, read

    (block,) = named(WRITING, "mapping-models")
    before = set(registry.synced_models())
    try:
        with isolate_apps("tests.testapp"):  # an app without models of these names: none is replaced
            example = run(block.code, {"__name__": "tests.testapp.docs_example"}, where=str(block))
            person_model, person = example["Person"], example["PersonResource"]
            assert [m for m in check_synced_models() if m.obj in (person_model, example["Tag"])] == []
            plan = get_plan(person_model)
    finally:
        for model in set(registry.synced_models()) - before:
            registry.unregister(model)
    record = person(
        id="c945d6fe",
        source="csv",
        identifiers=["action_network:c945d6fe", "mailchimp:1"],
        email_addresses=[example["EmailAddress"]("ann@example.org", True), example["EmailAddress"]("a@example.org")],
        tags=[example["TagResource"]("t1", "Volunteer", weight=3)],
    )
    read_values = {m.name: read(record, m.source) for m in plan.mappings if m.kind == "value"}
    assert read_values == {
        "action_network_id": "action_network:c945d6fe", "email": "ann@example.org", "last_email": "a@example.org"
    }
    (tags,) = plan.of_kind("m2m")
    assert {c.field.name: (c.origin, read(record if c.origin == "record" else record.tags[0], c.path)) for c in tags.through} == {
        "weight": ("link", 3), "imported_from": ("record", "csv")
    }


# --- Provided datasources: NationBuilder ------------------------------------------------------------------

NATIONBUILDER = "datasources/nationbuilder.md"


@exercises(NATIONBUILDER, "nb-models")
def test_the_nationbuilder_page_models_are_what_the_nationbuilder_tests_sync() -> None:
    (block,) = named(NATIONBUILDER, "nb-models")
    support = ROOT / "tests" / "nationbuilder_support" / "models.py"
    assert _without_docstring(block.code) == _without_docstring(support.read_text(encoding="utf-8"))


@exercises(NATIONBUILDER, "nb-settings")
def test_the_nationbuilder_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = named(NATIONBUILDER, "nb-settings")
    monkeypatch.setenv("NATIONBUILDER_SLUG", "mynation")
    for name in ("ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.setenv(f"NATIONBUILDER_{name}", f"nb-{name}")
    namespace = run(block.code)
    assert (namespace["NATIONBUILDER_SLUG"], namespace["NATIONBUILDER_CLIENT_SECRET"]) == ("mynation", "nb-CLIENT_SECRET")
    assert namespace["CACHES"]["default"]["BACKEND"].endswith("RedisCache")


@exercises(NATIONBUILDER, "nb-first-sync")
@pytest.mark.django_db(transaction=True)
def test_the_nationbuilder_first_sync_runs_against_a_local_nationbuilder_server(
    monkeypatch: pytest.MonkeyPatch, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Imported here: the server and the test app's modules are this test's alone.
    from benchmarks.nationbuilder_server import NationBuilderServer
    from tests.nationbuilder_support import models as nb_models

    (block,) = named(NATIONBUILDER, "nb-first-sync")
    with NationBuilderServer() as server:
        server.tokens["nb-docs-token"] = float("inf")
        settings.NATIONBUILDER_ACCESS_TOKEN = "nb-docs-token"
        for model in (nb_models.Tag, nb_models.Person, nb_models.Donation):
            monkeypatch.setattr(model.sync_config.datasource, "base_url", f"{server.url}/api/v2")
        server.add("signup_tags", "1", {"name": "volunteer"})
        server.add("signup_tags", "2", {"name": "programmer"})
        tags = [("signup_tags", "1"), ("signup_tags", "2")]
        server.add("signups", "18", {"first_name": "Grace", "last_name": "Hopper"}, relationships={"signup_tags": tags})
        server.add("signups", "19", {"first_name": "Joan", "last_name": "Cooney"}, relationships={"signup_tags": []})
        server.add("donations", "7", {"amount_in_cents": 2500}, relationships={"signup": ("signups", "18")})
        monkeypatch.setitem(sys.modules, "members", types.ModuleType("members"))
        monkeypatch.setitem(sys.modules, "members.models", nb_models)
        run(block.code, where=str(block))
    printed = capsys.readouterr().out.splitlines()
    shown = [line.split("# ", 1)[1] for line in block.code.splitlines() if line.startswith("# ")]
    assert len(printed) == len(shown) == 4
    for got, expected in zip(printed[:3], shown[:3], strict=True):
        assert got.split(" in ")[0] == expected.replace("members.", "nationbuilder_support.").split(" in ")[0]
    assert printed[3] == shown[3]


@exercises(NATIONBUILDER, "nb-webhooks")
def test_the_nationbuilder_webhooks_block_registers_its_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Imported here: only this test registers receivers from a docs block.
    from pyck.core.webhooks.registry import get_receiver, unregister_receiver
    from tests.nationbuilder_support import models as nb_models

    (block,) = named(NATIONBUILDER, "nb-webhooks")
    monkeypatch.setitem(sys.modules, "members", types.ModuleType("members"))
    monkeypatch.setitem(sys.modules, "members.models", nb_models)
    code = block.code.replace('"members.Person"', '"nationbuilder_support.Person"')
    try:
        run(code, where=str(block))
        people, merges = get_receiver("nb-people"), get_receiver("nb-merged")
        assert people is not None and merges is not None
        assert (people.trigger, merges.trigger, merges.merged_id_path) == ("person_changed", "person_merged", "payload.merged_person.id")
        assert merges.resolve_model(merges.model) is nb_models.Person
    finally:
        unregister_receiver("nb-people")
        unregister_receiver("nb-merged")


def test_every_python_block_of_the_nationbuilder_page_is_exercised() -> None:
    missing = [str(b) for b in python_blocks(NATIONBUILDER) if (NATIONBUILDER, b.directive) not in _EXERCISED]
    assert not missing, f"blocks nothing runs: {missing}"


# --- Provided datasources: Stripe ---------------------------------------------------------------------------


@exercises(STRIPE, "stripe-module")
@exercises(STRIPE, "stripe-models")
def test_the_stripe_page_code_is_what_the_stripe_tests_sync() -> None:
    (module,), (models_block,) = named(STRIPE, "stripe-module"), named(STRIPE, "stripe-models")
    support = ROOT / "tests" / "stripe_support"
    assert _without_docstring(module.code) == _without_docstring((support / "datasources.py").read_text(encoding="utf-8"))
    assert _without_docstring(models_block.code) == _without_docstring((support / "models.py").read_text(encoding="utf-8"))


@exercises(STRIPE, "stripe-settings")
def test_the_stripe_settings_read_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = named(STRIPE, "stripe-settings")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_docs")
    namespace = run(block.code)
    assert (namespace["STRIPE_API_KEY"], namespace["STRIPE_API_VERSION"]) == ("sk_test_docs", "2025-07-30.basil")


@exercises(STRIPE, "stripe-first-sync")
@pytest.mark.django_db(transaction=True)
def test_the_stripe_first_sync_runs_against_a_local_stripe_server(
    monkeypatch: pytest.MonkeyPatch, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Imported here: the server and the test app's modules are this test's alone.
    from benchmarks.stripe_server import StripeServer
    from tests.stripe_support import datasources as stripe_datasources
    from tests.stripe_support import models as stripe_models

    (block,) = named(STRIPE, "stripe-first-sync")
    with StripeServer(rate_limit=1000) as server:
        server.api_keys.add("sk_test_docs")
        settings.STRIPE_API_KEY = "sk_test_docs"
        for i in range(250):
            server.add("customer", {"id": f"cus_{i}", "email": f"c{i}@example.org"})
        server.add("subscription", {"id": "sub_1", "customer": "cus_1", "status": "active"})
        server.add("subscription", {"id": "sub_2", "customer": "cus_2", "status": "active"})
        for datasource in (stripe_datasources.customers, stripe_datasources.subscriptions):
            monkeypatch.setattr(datasource, "base_url", f"{server.url}/v1")
        monkeypatch.setitem(sys.modules, "billing", types.ModuleType("billing"))
        monkeypatch.setitem(sys.modules, "billing.models", stripe_models)
        run(block.code, where=str(block))
    printed = capsys.readouterr().out.splitlines()
    shown = [line.split("# ", 1)[1] for line in block.code.splitlines() if "# " in line]
    assert len(printed) == len(shown) == 3
    for got, expected in zip(printed[:2], shown[:2], strict=True):
        assert got.split(" in ")[0] == expected.replace("billing.", "stripe_support.").split(" in ")[0]
    assert printed[2] == shown[2]


@exercises(STRIPE, "stripe-webhooks")
def test_the_stripe_webhooks_module_is_the_one_the_tests_register() -> None:
    (block,) = named(STRIPE, "stripe-webhooks")
    source = (ROOT / "tests" / "stripe_support" / "webhooks.py").read_text(encoding="utf-8")
    assert _without_docstring(block.code) == _without_docstring(source.replace("stripe_support.", "billing."))


# --- The "Action Network" page ------------------------------------------------------------------------------

ACTION_NETWORK = "datasources/action-network.md"


def test_every_python_block_of_the_action_network_page_is_exercised() -> None:
    test_every_python_block_is_exercised(ACTION_NETWORK)


def test_the_action_network_page_links_are_relative_md_links() -> None:
    test_links_are_relative_md_links(ACTION_NETWORK)


@exercises(ACTION_NETWORK, "an-module")
@exercises(ACTION_NETWORK, "an-models")
def test_the_action_network_page_code_is_what_the_action_network_tests_sync() -> None:
    (module,), (models_block,) = named(ACTION_NETWORK, "an-module"), named(ACTION_NETWORK, "an-models")
    support = ROOT / "tests" / "action_network_support"
    assert _without_docstring(module.code) == _without_docstring((support / "action_network.py").read_text(encoding="utf-8"))
    assert _without_docstring(models_block.code) == _without_docstring((support / "models.py").read_text(encoding="utf-8"))


@exercises(ACTION_NETWORK, "an-settings")
def test_the_action_network_settings_read_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = named(ACTION_NETWORK, "an-settings")
    monkeypatch.setenv("ACTION_NETWORK_API_KEY", "an-docs-key")
    assert run(block.code)["ACTION_NETWORK_API_KEY"] == "an-docs-key"


@exercises(ACTION_NETWORK, "an-first-sync")
@pytest.mark.django_db(transaction=True)
def test_the_action_network_first_sync_runs_against_a_local_server(
    monkeypatch: pytest.MonkeyPatch, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Imported here: the server and the test app's modules are this test's alone (time for the real waits).
    import time

    import pyck.core.http
    from benchmarks.action_network_server import ActionNetworkServer
    from pyck.contrib.action_network import ActionNetworkDatasource
    from tests.action_network_support import models as an_models

    (block,) = named(ACTION_NETWORK, "an-first-sync")
    with ActionNetworkServer() as server:
        server.api_keys.add("an-docs-key")
        settings.ACTION_NETWORK_API_KEY = "an-docs-key"
        monkeypatch.setattr(ActionNetworkDatasource, "base_url", f"{server.url}/api/v2")
        monkeypatch.setattr(pyck.core.http, "_sleep", time.sleep)  # the server enforces 4 requests a second
        volunteer, donor = (server.add("tags", {"name": name}) for name in ("volunteer", "donor"))
        people = [server.add("people", {"given_name": f"P{i}"}) for i in range(30)]
        for tag, pid in ((volunteer, people[0]), (volunteer, people[1]), (volunteer, people[2]), (donor, people[0])):
            server.add("taggings", {}, parent=("tags", tag), links={"osdi:person": ("people", pid)})
        event = server.add("events", {"title": "Rally"})
        for pid in people[:3]:
            server.add("attendances", {"status": "accepted"}, parent=("events", event), links={"osdi:person": ("people", pid)})
        server.add("donations", {"amount": "20.00"}, links={"osdi:person": ("people", people[0])})
        monkeypatch.setitem(sys.modules, "campaign", types.ModuleType("campaign"))
        monkeypatch.setitem(sys.modules, "campaign.models", an_models)
        run(block.code, where=str(block))
    printed = capsys.readouterr().out.splitlines()
    shown = [line.split("# ", 1)[1] for line in block.code.splitlines() if line.startswith("# ")]
    assert len(printed) == len(shown) == 6
    for got, said in zip(printed, shown, strict=True):
        assert got.split(" in ")[0] == said.replace("campaign.", "action_network_support.").split(" in ")[0]


@exercises(ACTION_NETWORK, "an-webhooks")
@exercises(ACTION_NETWORK, "an-urls")
def test_the_action_network_webhook_code_is_what_the_webhook_tests_run() -> None:
    (receiver,), (urls,) = named(ACTION_NETWORK, "an-webhooks"), named(ACTION_NETWORK, "an-urls")
    support = ROOT / "tests" / "action_network_support"
    tested = (support / "webhooks.py").read_text(encoding="utf-8").replace("action_network_support.", "campaign.")
    assert _without_docstring(receiver.code) == _without_docstring(tested)
    assert _without_docstring(urls.code) == _without_docstring((support / "urls.py").read_text(encoding="utf-8"))


@exercises(ACTION_NETWORK, "an-webhook-settings")
def test_the_action_network_webhook_token_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = named(ACTION_NETWORK, "an-webhook-settings")
    monkeypatch.setenv("ACTION_NETWORK_WEBHOOK_TOKEN", "an-docs-token")
    assert run(block.code)["ACTION_NETWORK_WEBHOOK_TOKEN"] == "an-docs-token"
