"""``SYNC_FREEZE_GC``: the objects that existed before a sync are out of the collector's sight while it runs."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from django.test import override_settings

from pyck.core.sync import collector
from pyck.core.sync.collector import heap_frozen
from pyck.core.exceptions import ConfigurationError
from pyck.core.sync import sync_model, sync_models
from tests.testapp import resources as r
from tests.testapp.models import Team
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams_api(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, Team, [r.TeamResource(id=1, name="Reds"), r.TeamResource(id=2, name="Blues")])


@pytest.fixture(autouse=True)
def nothing_frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start with nothing frozen (Python 3.12 starts with a few hundred objects frozen: see the next fixture)."""
    gc.unfreeze()
    monkeypatch.setattr(collector, "_baseline", 0)
    yield
    gc.unfreeze()


def test_objects_made_before_the_block_are_frozen_for_its_duration() -> None:
    tracked = len(gc.get_objects())
    with heap_frozen():
        assert gc.get_freeze_count() >= tracked // 2  # everything the collector tracked (less what died since)
        assert len(gc.get_objects()) < tracked // 2  # out of its sight
    assert gc.get_freeze_count() == 0


def test_nested_and_concurrent_blocks_unfreeze_once_the_last_ends() -> None:
    inside = threading.Event()
    leave = threading.Event()

    def other() -> None:
        with heap_frozen():
            inside.set()
            leave.wait(5)

    with heap_frozen():
        thread = threading.Thread(target=other)
        thread.start()
        assert inside.wait(5)
        with heap_frozen():
            assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() > 0  # the other thread's sync still runs
    leave.set()
    thread.join()
    assert gc.get_freeze_count() == 0


def test_objects_frozen_by_someone_else_stay_frozen() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    with heap_frozen():
        pass
    assert gc.get_freeze_count() == frozen


def test_objects_frozen_before_pyck_was_imported_do_not_stop_it(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.freeze()  # as Python 3.12 starts, with some objects frozen
    monkeypatch.setattr(collector, "_baseline", gc.get_freeze_count())
    for _ in range(2):
        frozen = []
        with heap_frozen():
            frozen.append(gc.get_freeze_count())
        assert frozen[0] > 0 and gc.get_freeze_count() == 0
    assert collector._baseline == 0


def test_a_disabled_collector_or_setting_is_left_alone() -> None:
    with heap_frozen(False):
        assert gc.get_freeze_count() == 0
    gc.disable()
    try:
        with heap_frozen():
            assert gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_an_exception_still_unfreezes() -> None:
    with pytest.raises(RuntimeError), heap_frozen():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0


def test_a_sync_runs_frozen_and_unfreezes(teams_api: None) -> None:
    during: list[int] = []
    result = sync_model(Team, progress=lambda progress: during.append(gc.get_freeze_count()))
    assert result.ok and during and all(count > 0 for count in during)
    assert gc.get_freeze_count() == 0
    during.clear()
    with override_settings(PYCK={"SYNC_FREEZE_GC": False}):
        assert sync_models([Team], progress=lambda progress: during.append(gc.get_freeze_count()))[0].ok
    assert during == [0]


def test_a_setting_that_is_not_a_boolean_is_a_configuration_error(teams_api: None) -> None:
    with override_settings(PYCK={"SYNC_FREEZE_GC": "yes"}), pytest.raises(ConfigurationError, match="SYNC_FREEZE_GC"):
        sync_model(Team)
