"""Child listings (`SyncConfig(for_each=ForEach(...))`): a model listed once per row of its parent model, against
an Action Network-like API (tags, and each tag's taggings at ``/tags/{id}/taggings``, two per page).

Issue 18 item 6: each parent's listing read in turn, the parent set on the child rows, a run resumed at the
parent and page it reached, deletion decided per parent, a parent deleted remotely handled cleanly.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from pyck.core.checks import check_synced_models
from pyck.core.datasources import ConfigurationError, ForEach, Incremental, SyncConfig
from pyck.core.models import SyncRun
from pyck.core.path_params import list_url
from pyck.core.sync import sync_model, sync_models, sync_order
from tests.children_support.api import BASE_URL, Taggings, taggings, tags
from tests.children_support.models import LooseTagging, Tag, Tagging

pytestmark = pytest.mark.django_db

PAGE = 2


class FakeActionNetwork:
    """Tags and their taggings in memory, served as Action Network pages; counts the requests per path+page."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {"t1": "volunteer", "t2": "donor", "t3": "member"}
        self.taggings: dict[str, list[tuple[str, str]]] = {
            "t1": [("g11", "p1"), ("g12", "p2"), ("g13", "p3")],
            "t2": [("g21", "p1"), ("g22", "p4"), ("g23", "p5"), ("g24", "p6"), ("g25", "p7")],
            "t3": [("g31", "p2")],
        }
        self.failing: set[str] = set()  # tags whose taggings answer 500
        self.expired: set[str] = set()  # pages ("/tags/t1/taggings?page=2") answering 422 once, as a stale link
        self.requests: Counter[str] = Counter()

    def page(self, items: list[dict[str, Any]], key: str, url: str, number: int) -> dict[str, Any]:
        chunk = items[(number - 1) * PAGE : number * PAGE]
        body: dict[str, Any] = {"_embedded": {key: chunk}, "_links": {}}
        if number * PAGE < len(items):
            body["_links"]["next"] = {"href": f"{url}?page={number + 1}"}
        return body

    def serve(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        number = int(parse_qs(parts.query).get("page", ["1"])[0])
        path = parts.path.removeprefix("/api/v2")
        self.requests[f"{path}?page={number}"] += 1
        if f"{path}?page={number}" in self.expired:
            self.expired.discard(f"{path}?page={number}")
            return 422, {}, json.dumps({"error": "This page link has expired"})
        url = f"{BASE_URL}{path}"
        if path == "/tags":
            items = [{"identifiers": [f"action_network:{i}"], "name": n} for i, n in self.tags.items()]
            return 200, {}, json.dumps(self.page(items, "osdi:tags", url, number))
        match = re.fullmatch(r"/tags/([^/]+)/taggings", path)
        if match:
            tag = match.group(1)
            if tag in self.failing:
                return 500, {}, json.dumps({"error": "Server error"})
            if tag not in self.tags:
                return 404, {}, json.dumps({"error": "Tag not found"})
            items = [
                {
                    "identifiers": [f"action_network:{g}"],
                    "_links": {
                        "osdi:tag": {"href": f"{BASE_URL}/tags/{tag}"},
                        "osdi:person": {"href": f"{BASE_URL}/people/{p}"},
                    },
                }
                for g, p in self.taggings[tag]
            ]
            return 200, {}, json.dumps(self.page(items, "osdi:taggings", url, number))
        match = re.fullmatch(r"/tags/([^/]+)/?", path)
        if match and match.group(1) in self.tags:
            tag = match.group(1)
            return 200, {}, json.dumps({"identifiers": [f"action_network:{tag}"], "name": self.tags[tag]})
        return 404, {}, json.dumps({"error": "Not found"})

    def listed(self, tag: str) -> int:
        """How many pages of `tag`'s taggings were requested."""
        return sum(n for key, n in self.requests.items() if key.startswith(f"/tags/{tag}/taggings?"))


@pytest.fixture
def api() -> Iterator[FakeActionNetwork]:
    fake = FakeActionNetwork()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, re.compile(re.escape(BASE_URL) + r"/.*"), callback=fake.serve)
        yield fake


def stored() -> dict[str, tuple[str, str]]:
    return {t.external_id: (t.tag.external_id, t.person) for t in Tagging.objects.select_related("tag")}


def everything(api: FakeActionNetwork) -> dict[str, tuple[str, str]]:
    return {g: (tag, p) for tag, items in api.taggings.items() for g, p in items}


def test_the_parent_model_is_synced_first_and_each_parents_listing_gives_its_rows_their_parent(
    api: FakeActionNetwork,
) -> None:
    assert sync_order([Tagging, Tag]) == [Tag, Tagging]
    tag_result, tagging_result = sync_models([Tagging, Tag])
    assert (tag_result.created, tagging_result.status, tagging_result.created) == (3, "succeeded", 9)
    assert stored() == everything(api), "each tagging's tag is the tag it was listed under"
    assert [api.listed(t) for t in ("t1", "t2", "t3")] == [2, 3, 1]
    assert not any("tag_id=" in key for key in api.requests), "the parent's id fills the path, not the query"
    again = sync_model(Tagging)
    assert (again.created, again.updated, again.unchanged, again.deleted) == (0, 0, 9, 0)


def test_a_child_moved_to_another_parent_is_updated(api: FakeActionNetwork) -> None:
    sync_models([Tag, Tagging])
    api.taggings["t3"].append(api.taggings["t1"].pop())  # g13 now listed under t3
    result = sync_model(Tagging)
    assert (result.updated, result.deleted) == (1, 0)
    assert stored()["g13"] == ("t3", "p3")


class Interrupted(BaseException):
    """Stands for a process killed after a batch committed."""


def parents_in_order(api: FakeActionNetwork, *sizes: int) -> list[str]:
    """Sync the tags, and give the first, second... in the order a child listing reads them (by primary key)
    `sizes` taggings each; return their ids in that order."""
    sync_model(Tag)
    order = list(Tag.objects.order_by("pk").values_list("external_id", flat=True))
    api.taggings = {tag: [(f"g{tag}-{n}", f"p{n}") for n in range(size)] for tag, size in zip(order, sizes)}
    return order


def test_an_interrupted_run_resumes_at_the_parent_and_page_it_reached(
    api: FakeActionNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = parents_in_order(api, 3, 5, 1)
    monkeypatch.setattr(Tagging.sync_config, "batch_size", PAGE)
    batches = []

    def die_in_the_second_parent(progress: Any) -> None:
        batches.append(progress.records)
        if len(batches) == 3:  # the 3 of the first parent, then 3 of the second (its first page and a half)
            raise Interrupted

    with pytest.raises(Interrupted):
        sync_model(Tagging, progress=die_in_the_second_parent)
    assert len(stored()) == 6 and SyncRun.objects.filter(model="children_support.Tagging").get().status == "failed"
    before = Counter(api.requests)
    result = sync_model(Tagging)
    resumed = api.requests - before
    assert result.resumed and result.status == "succeeded"
    assert stored() == everything(api)
    assert api.listed(first) == 2, "the first parent's listing is not read again"
    assert resumed[f"/tags/{second}/taggings?page=1"] == 0, "the second parent's resumes at its second page"
    assert resumed[f"/tags/{second}/taggings?page=2"] == 1 and resumed[f"/tags/{third}/taggings?page=1"] == 1
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0), "nothing read twice"


def test_a_resumed_parent_whose_page_link_expired_is_read_again_from_its_start(
    api: FakeActionNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, _ = parents_in_order(api, 3, 5, 1)
    monkeypatch.setattr(Tagging.sync_config, "batch_size", PAGE)
    batches = []

    def die_in_the_second_parent(progress: Any) -> None:
        batches.append(progress.records)
        if len(batches) == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        sync_model(Tagging, progress=die_in_the_second_parent)
    api.expired.add(f"/tags/{second}/taggings?page=2")  # where the interrupted run had got to
    before = Counter(api.requests)
    result = sync_model(Tagging)
    resumed = api.requests - before
    assert result.resumed and result.status == "succeeded" and stored() == everything(api)
    assert resumed[f"/tags/{second}/taggings?page=2"] == 2 and resumed[f"/tags/{second}/taggings?page=1"] == 1
    assert api.listed(first) == 2, "the parents before it are not read again"


class WholeTaggings(Taggings):
    """Taggings through an overridden `list()`: a listing that cannot resume part way through."""

    def list(self, **filter: Any) -> Iterator[Any]:
        yield from super().list(**filter)


def test_a_listing_that_cannot_resume_part_way_restarts_the_parent_it_reached_not_the_run(
    api: FakeActionNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, _ = parents_in_order(api, 3, 5, 1)
    monkeypatch.setattr(Tagging.sync_config, "datasource", WholeTaggings(name="an.whole"))
    monkeypatch.setattr(Tagging.sync_config, "batch_size", PAGE)
    assert not Tagging.sync_config.datasource.resumable
    batches = []

    def die_in_the_second_parent(progress: Any) -> None:
        batches.append(progress.records)
        if len(batches) == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        sync_model(Tagging, progress=die_in_the_second_parent)
    before = Counter(api.requests)
    result = sync_model(Tagging)
    resumed = api.requests - before
    assert result.resumed and result.status == "succeeded" and stored() == everything(api)
    assert not any(key.startswith(f"/tags/{first}/") for key in resumed), "the first parent is not read again"
    assert resumed[f"/tags/{second}/taggings?page=1"] == 1, "the second parent's listing starts over"
    assert (result.created, result.unchanged) == (3, 3)


def test_a_row_missing_from_its_parents_listing_is_deleted_while_another_parents_listing_fails(
    api: FakeActionNetwork,
) -> None:
    sync_models([Tag, Tagging])
    Tagging.objects.filter(external_id="g21").update(note="mine")
    api.taggings["t1"].pop(0)  # g11 removed from t1: its listing completes without it
    api.taggings["t2"].pop(0)  # g21 removed from t2, whose listing fails
    api.failing.add("t2")
    before = Counter(api.requests)
    result = sync_model(Tagging)
    assert result.status == "partial" and result.deleted == 1
    assert "g11" not in stored(), "deleted: its parent's listing completed without it"
    assert Tagging.objects.get(external_id="g21").note == "mine", "kept: its parent's listing failed"
    assert len([e for e in result.errors if "t2" in e.message and "failed" in e.message]) == 1
    assert (api.requests - before)["/tags/t3/taggings?page=1"] == 1, "the run went on with the other parents"
    api.failing.clear()
    again = sync_model(Tagging)
    assert (again.status, again.deleted) == ("succeeded", 1)
    assert stored() == everything(api)


def test_a_parent_deleted_remotely_keeps_its_rows_until_its_own_sync_deletes_it(api: FakeActionNetwork) -> None:
    sync_models([Tag, Tagging])
    del api.tags["t1"]  # its taggings answer 404, and so does the tag
    result = sync_model(Tagging)
    assert (result.status, result.deleted, result.failed) == ("succeeded", 0, 0)
    assert any("t1" in text and "deleted remotely" in text for text in result.notes)
    assert {g for g, (tag, _) in stored().items() if tag == "t1"} == {"g11", "g12", "g13"}
    tag_result = sync_model(Tag)
    assert tag_result.deleted == 1
    assert not Tagging.objects.filter(tag__external_id="t1").exists(), "they followed their tag (CASCADE)"


def test_a_404_from_a_parent_that_still_exists_is_a_failed_listing(
    api: FakeActionNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_models([Tag, Tagging])
    api.taggings["t1"].pop(0)
    monkeypatch.setattr(Tagging.sync_config, "datasource", Taggings(path="/tags/{tag_id}/taggingz", name="an.typo"))
    result = sync_model(Tagging)
    assert (result.status, result.deleted) == ("failed", 0), "every parent's listing failed: nothing deleted"
    assert len(stored()) == 9


def test_a_resumed_run_keeps_the_rows_of_a_parent_whose_listing_failed_before_the_interruption(
    api: FakeActionNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _, last = parents_in_order(api, 2, 2, 1)
    sync_model(Tagging)
    removed = api.taggings[first].pop()[0]
    api.failing.add(first)
    api.taggings[last].append(("g99", "p9"))  # a row the last parent writes: its batch checkpoints
    monkeypatch.setattr(Tagging.sync_config, "batch_size", 1)

    def die_after_g99(progress: Any) -> None:
        if Tagging.objects.filter(external_id="g99").exists():
            raise Interrupted

    with pytest.raises(Interrupted):
        sync_model(Tagging, progress=die_after_g99)
    api.failing.clear()
    before = Counter(api.requests)
    result = sync_model(Tagging)
    assert result.resumed and result.status == "partial"
    assert "earlier, interrupted part" in result.errors[0].message
    assert Tagging.objects.filter(external_id=removed).exists(), "its parent's listing failed in the first part"
    assert (api.requests - before)[f"/tags/{first}/taggings?page=1"] == 0, "the run went on where it was"
    assert sync_model(Tagging).deleted == 1, "the next whole run deletes it"


def test_rows_left_without_a_parent_are_deleted_only_when_every_parents_listing_completed(
    api: FakeActionNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LooseTagging.sync_config, "max_delete_fraction", 1.0)  # only the parents' listings decide
    sync_models([Tag, LooseTagging])
    del api.tags["t1"]
    assert sync_model(Tag).deleted == 1
    orphans = {"g11", "g12", "g13"}
    assert set(LooseTagging.objects.filter(tag=None).values_list("external_id", flat=True)) == orphans
    api.failing.add("t2")
    partial = sync_model(LooseTagging)
    assert (partial.status, partial.deleted) == ("partial", 0), "a parent's listing failed: orphans are kept"
    api.failing.clear()
    complete = sync_model(LooseTagging)
    assert (complete.status, complete.deleted) == ("succeeded", 3)
    assert not LooseTagging.objects.filter(tag=None).exists()


def test_a_datasource_path_takes_its_placeholders_from_the_list_arguments(api: FakeActionNetwork) -> None:
    assert [r.id for r in taggings.list(tag_id="t3")] == ["g31"]
    assert api.requests == Counter({"/tags/t3/taggings?page=1": 1})
    assert list_url(taggings.url, taggings.path, {"tag_id": "a/b c", "page": 2}, where="x") == (
        f"{BASE_URL}/tags/a%2Fb%20c/taggings", {"page": 2}
    )
    with pytest.raises(ConfigurationError, match="needs the list\\(\\) argument 'tag_id'"):
        list(taggings.list())
    with pytest.raises(ConfigurationError, match="cannot be empty"):
        list(taggings.list(tag_id=".."))


def test_a_wrong_for_each_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="cannot be combined"):
        SyncConfig(datasource=taggings, for_each=ForEach("tag", param="tag_id"), partitions={"a": {}})
    with pytest.raises(ConfigurationError, match="cannot be combined"):
        SyncConfig(datasource=taggings, for_each=ForEach("tag", param="tag_id"), incremental=Incremental(field="id"))
    with pytest.raises(ConfigurationError, match="ForEach\\(param=...\\)"):
        ForEach("tag", param="")
    monkeypatch.setattr(Tagging.sync_config, "for_each", ForEach("person", param="tag_id"))
    with pytest.raises(ConfigurationError, match="must name a ForeignKey"):
        sync_model(Tagging)
    assert tags.url == f"{BASE_URL}/tags"


def test_manage_py_check_reports_a_wrong_for_each(monkeypatch: pytest.MonkeyPatch) -> None:
    def ids(model: type[Any]) -> list[str]:
        return [message.id for message in check_synced_models() if message.obj is model]

    assert ids(Tagging) == ids(LooseTagging) == ids(Tag) == []
    monkeypatch.setattr(Tagging.sync_config, "for_each", ForEach("person", param="tag_id"))
    assert ids(Tagging) == ["pyck.E019"]
    monkeypatch.setattr(Tagging.sync_config, "for_each", ForEach("tag", param="tag_id", value="colour"))
    [message] = [m for m in check_synced_models() if m.obj is Tagging]
    assert message.id == "pyck.E019" and "value='colour'" in message.msg
