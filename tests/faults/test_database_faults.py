"""The database misbehaving under a sync, on PostgreSQL: the sync's connection killed (``pg_terminate_backend``)
between batches and inside one, the database refusing connections altogether, a deadlock, a row locked past
``lock_timeout``, and a concurrent writer inserting the external id the sync is about to insert.

Every fault is real, provoked from a second connection at an exact point of the sync: between batches through
the ``progress`` callback, inside a batch's transaction through a Django ``execute_wrapper`` that acts just
before (or after) a given statement. What is checked each time: no batch is ever half applied, no row is
corrupted, local-only columns are never touched, the run is recorded, and a later run converges to exactly the
remote state.

SQLite cannot play: the test database lives in memory inside this process, there is no server connection to
terminate, and SQLite serialises writers, so no other connection can take a lock or insert a row in the middle
of a batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from pyck.core.sync import run as sync_module
from pyck.core.datasources import SyncRun
from pyck.core.sync import SyncProgress, sync_model
from tests.testapp.models import Article
from tests.testapp.resources import ArticleResource
from tests.testapp.testing import use

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: the SQLite test database is in memory in this process, with no server connection "
        "to kill and no concurrent writer possible (run with DATABASE_URL=postgres://...)",
    ),
    pytest.mark.django_db(transaction=True),
]

BATCH = 3
#: The remote listing: four batches of three.
REMOTE = [ArticleResource(id=i, headline=f"Title {i}", words=1000 + i) for i in range(1, 13)]
#: Rows stored before the sync, one in each batch, with local-only columns; and one the listing does not have.
LOCAL = {2: "mine 2", 5: "mine 5", 8: "mine 8", 11: "mine 11", 99: "not listed"}


def _batch(n: int) -> list[int]:
    """The ids of the ``n``-th batch (from 1)."""
    return [r.id for r in REMOTE[(n - 1) * BATCH : n * BATCH]]


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Article's datasource holds :data:`REMOTE`; the table holds the stale rows of :data:`LOCAL`."""
    use(monkeypatch, Article, REMOTE)
    for external_id, notes in LOCAL.items():
        Article.objects.create(external_id=external_id, title="Old", word_count=0, notes=notes, starred=True)


@pytest.fixture(autouse=True)
def _fresh_connection_after() -> Iterator[None]:
    """Drop whatever is left of the test's connection, so that the database flush after the test opens a new one."""
    yield
    connection.close()


def _connect(dbname: str | None = None) -> psycopg.Connection[Any]:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=dbname or settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=True,
    )


@pytest.fixture
def admin() -> Iterator[psycopg.Connection[Any]]:
    """A connection to the maintenance database ``postgres``: it can kill the test's backends and close the test
    database to new connections (``ALTER DATABASE`` refuses to act on the database it is connected to)."""
    with _connect("postgres") as conn:
        yield conn


@pytest.fixture
def other() -> Iterator[psycopg.Connection[Any]]:
    """A second connection to the test database, in autocommit: another process's writes and locks."""
    with _connect() as conn:
        yield conn


def _backend_pid() -> int:
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


def _terminate(admin: psycopg.Connection[Any], pid: int) -> None:
    """Kill backend ``pid`` and wait until it is gone, so that the next statement on it fails for sure."""
    assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
        time.sleep(0.01)


@contextmanager
def _database_closed(admin: psycopg.Connection[Any]) -> Iterator[Callable[[], None]]:
    """Yield a function that makes the test database refuse new connections; they are allowed again on exit."""
    name = connection.settings_dict["NAME"]

    def close() -> None:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')

    try:
        yield close
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


Act = Callable[[str, list[Any]], None]


@contextmanager
def _before_statement(act: Act) -> Iterator[Act]:
    """Call ``act(sql, values)`` before each statement the sync sends (``values``: its parameters, flattened)."""

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        act(sql, _flatten(params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield act


class after_the_insert_of:  # noqa: N801 (reads as a phrase where it is used)
    """An ``act`` for :func:`_before_statement`: calls ``action()`` once, just before the statement that follows
    the first insert into the table of the row with external id ``external_id`` (so inside that transaction)."""

    def __init__(self, external_id: int, action: Callable[[], None]) -> None:
        self.external_id = external_id
        self.action = action
        self.inserted = self.fired = False

    def __call__(self, sql: str, values: list[Any]) -> None:
        if self.inserted and not self.fired:
            self.fired = True
            self.action()
        elif _is_insert(sql) and self.external_id in values:
            self.inserted = True


def _flatten(params: Any) -> list[Any]:
    values: list[Any] = []
    for value in params or ():
        values.extend(_flatten(value) if isinstance(value, (list, tuple)) else [value])
    return values


def _is_insert(sql: str) -> bool:
    return sql.lstrip().upper().startswith('INSERT INTO "TESTAPP_ARTICLE"')


# --- What the table holds ---------------------------------------------------------------------------------


def _rows() -> dict[int, tuple[Any, ...]]:
    rows = Article.objects.values_list("external_id", "title", "word_count", "notes", "starred")
    table = {row[0]: row[1:] for row in rows}
    assert len(table) == len(rows), "two rows share an external id"
    return table


def _expected(synced: set[int]) -> dict[int, tuple[Any, ...]]:
    """The table once the records in ``synced`` are written (and no others): local-only columns untouched."""
    table = {}
    for external_id, notes in LOCAL.items():
        table[external_id] = ("Old", 0, notes, True)
    for record in REMOTE:
        if record.id in synced:
            notes, starred = (LOCAL[record.id], True) if record.id in LOCAL else ("", False)
            table[record.id] = (record.headline, record.words, notes, starred)
    return table


def _whole_batches(n: int) -> dict[int, tuple[Any, ...]]:
    """The table once the first ``n`` batches are written."""
    return _expected({i for b in range(1, n + 1) for i in _batch(b)})


CONVERGED = _expected({r.id for r in REMOTE})


def _converges() -> None:
    """A later run writes exactly the remote state, and records it."""
    result = sync_model(Article, batch_size=BATCH)
    assert result.status == "succeeded", result.errors
    assert _rows() == CONVERGED
    assert SyncRun.objects.latest("started").status == "succeeded"


# --- The connection killed --------------------------------------------------------------------------------


def test_a_connection_killed_between_batches_is_replaced_and_the_sync_completes(remote, admin, other, caplog) -> None:
    killed: list[int] = []

    def kill_after_batch_2(progress: SyncProgress) -> None:
        if progress.batches == 2:
            killed.append(_backend_pid())
            _terminate(admin, killed[0])
            assert _rows_seen_by(other) == _whole_batches(2)

    result = sync_model(Article, batch_size=BATCH, progress=kill_after_batch_2)

    assert killed and _backend_pid() != killed[0], "the sync went on over a new connection"
    assert result.status == "succeeded" and (result.created, result.updated, result.failed) == (8, 4, 0)
    assert _rows() == CONVERGED
    assert SyncRun.objects.get().status == "succeeded"
    assert any("terminating connection" in r.getMessage() for r in caplog.records if r.name == "pyck.sync")


def test_a_connection_killed_inside_a_batch_rolls_it_back_and_the_batch_is_redone(remote, admin, other) -> None:
    def kill() -> None:
        # Batch 3 has inserted its new rows in its open transaction: kill it before it goes any further.
        _terminate(admin, _backend_pid())
        assert _rows_seen_by(other) == _whole_batches(2)

    with _before_statement(after_the_insert_of(7, kill)) as trigger:
        result = sync_model(Article, batch_size=BATCH)

    assert trigger.fired, "the batch's insert was not seen: the statements the engine sends have changed"
    assert result.status == "succeeded" and result.failed == 0, result.errors
    assert _rows() == CONVERGED
    assert SyncRun.objects.get().status == "succeeded"


def test_a_database_gone_mid_batch_leaves_whole_batches_only_and_the_sync_fails_clearly(
    remote, admin, other, monkeypatch
) -> None:
    attempts: list[bool] = []  # one per connection attempt while the database is gone
    wrapper = connections[DEFAULT_DB_ALIAS]
    connect = wrapper.get_new_connection

    def counting_connect(params: dict[str, Any]) -> Any:
        if attempts:
            attempts.append(True)
        return connect(params)

    monkeypatch.setattr(wrapper, "get_new_connection", counting_connect)
    with _database_closed(admin) as close_database:

        def take_the_database_away() -> None:
            close_database()
            _terminate(admin, _backend_pid())
            attempts.append(False)

        with _before_statement(after_the_insert_of(7, take_the_database_away)), pytest.raises(Exception) as raised:
            sync_model(Article, batch_size=BATCH)
        assert "not currently accepting connections" in str(raised.value)
        # A handful of attempts (the batch's retry, recording the run), not one per record left (six).
        assert 1 <= attempts.count(True) <= 4, f"{attempts.count(True)} connection attempts"
        assert _rows_seen_by(other) == _whole_batches(2)

    connection.close()
    lost = SyncRun.objects.get()
    # Its SyncRun could not be written while the database was gone: it is left "running" (or "failed" if the
    # engine learns to record it once the database is back); never "succeeded".
    assert lost.status in ("running", "failed")
    _converges()


@pytest.mark.parametrize("with_the_batch", [True, False], ids=["recorded-with-the-last-batch", "recorded-after"])
def test_a_connection_killed_after_the_last_batch_still_records_the_run(
    remote, admin, other, monkeypatch, with_the_batch
) -> None:
    Article.sync_config.datasource.data = REMOTE[:11]  # the last batch is short: it is written, then progress
    if not with_the_batch:  # as when the outcome could not be written in that transaction: written afterwards
        monkeypatch.setattr(sync_module, "record_outcome", lambda *args: None)

    def kill_after_the_last_batch(progress: SyncProgress) -> None:
        if progress.records == 11:
            _terminate(admin, _backend_pid())

    result = sync_model(Article, batch_size=BATCH, progress=kill_after_the_last_batch)

    assert result.status == "succeeded"
    assert _rows_seen_by(other) == _expected({r.id for r in REMOTE[:11]})
    # Written with the last batch, the outcome needed no query afterwards: the killed connection is still
    # this thread's, and Django replaces it only once it is closed (after a request, or by the caller).
    connection.close()
    assert SyncRun.objects.get().status == "succeeded"


def _rows_seen_by(conn: psycopg.Connection[Any]) -> dict[int, tuple[Any, ...]]:
    """The committed table, as another connection sees it."""
    query = "SELECT external_id, title, word_count, notes, starred FROM testapp_article"
    return {row[0]: tuple(row[1:]) for row in conn.execute(query).fetchall()}


# --- Locks and deadlocks ----------------------------------------------------------------------------------


def test_a_deadlock_rolls_the_batch_back_and_the_batch_is_redone(remote, other, caplog) -> None:
    # ``other`` holds row 8 (batch 3) locked. The sync's batch 3 inserts rows 7 and 9, then waits for row 8;
    # ``other`` then inserts external id 7 too, so it waits for the sync: a deadlock. The sync's connection
    # checks for deadlocks first (after 1 s) and so is the one cancelled.
    sync_pid = _backend_pid()
    connection.cursor().execute("SET deadlock_timeout = '1s'")
    other.execute("SET deadlock_timeout = '30s'")
    other.execute("SET lock_timeout = '20s'")
    other.autocommit = False
    other.execute("SELECT 1 FROM testapp_article WHERE external_id = 8 FOR UPDATE")
    outcome: list[str] = []

    def close_the_cycle() -> None:
        try:
            _wait_until_waiting_for_a_lock(other, sync_pid)
            other.execute(
                "INSERT INTO testapp_article (id, external_id, title, author_name, word_count, notes, starred, extra)"
                " VALUES (gen_random_uuid(), 7, 'Theirs', '', 0, '', false, '{}')"
            )
            outcome.append("inserted")
        except psycopg.Error as error:
            outcome.append(repr(error))
        finally:
            other.rollback()  # neither the lock nor the insert survive: the redone batch goes through

    thread = threading.Thread(target=close_the_cycle)
    thread.start()
    try:
        result = sync_model(Article, batch_size=BATCH)
    finally:
        thread.join(timeout=30)

    assert outcome == ["inserted"], "the sync, not the other connection, should have been the deadlock's victim"
    assert any("deadlock detected" in r.getMessage() for r in caplog.records if r.name == "pyck.sync")
    assert result.status == "succeeded" and result.failed == 0, result.errors
    assert _rows() == CONVERGED


def test_a_row_locked_past_lock_timeout_fails_only_its_record_and_a_later_run_converges(remote, other) -> None:
    connection.cursor().execute("SET lock_timeout = '300ms'")
    other.autocommit = False
    other.execute("SELECT 1 FROM testapp_article WHERE external_id = 8 FOR UPDATE")

    result = sync_model(Article, batch_size=BATCH)

    other.rollback()
    assert result.status == "partial" and result.failed == 1
    [error] = result.errors
    assert error.record_id == 8 and "lock timeout" in error.message and "record id 8" in error.message
    # Batch 3 was redone row by row: its other records are written; row 8 is untouched.
    assert _rows() == _expected({r.id for r in REMOTE} - {8})
    run = SyncRun.objects.get()
    assert (run.status, run.failed, run.errors[0]["record_id"]) == ("partial", 1, 8)
    _converges()


def _wait_until_waiting_for_a_lock(conn: psycopg.Connection[Any], pid: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s"
    while conn.execute(query, [pid]).fetchone() != ("Lock",):
        if time.monotonic() > deadline:
            raise AssertionError("the sync never waited for the locked row")
        time.sleep(0.005)


# --- A concurrent writer ----------------------------------------------------------------------------------


def _insert_concurrently(conn: psycopg.Connection[Any], external_id: int) -> None:
    conn.execute(
        "INSERT INTO testapp_article (id, external_id, title, author_name, word_count, notes, starred, extra)"
        " VALUES (gen_random_uuid(), %s, 'Theirs', '', 0, 'theirs', false, '{}')",
        [external_id],
    )


def test_a_row_inserted_concurrently_with_the_same_id_is_merged_not_duplicated(remote, other) -> None:
    stolen: list[int] = []

    def insert_4_first(sql: str, values: list[Any]) -> None:
        if _is_insert(sql) and 4 in values and not stolen:
            # Batch 2 looked 4 up, found nothing, and is about to insert it: another writer gets there first.
            _insert_concurrently(other, 4)
            stolen.append(4)

    with _before_statement(insert_4_first):
        result = sync_model(Article, batch_size=BATCH)

    assert stolen == [4]
    assert result.status == "succeeded" and result.failed == 0, result.errors
    # The engine redid batch 2 row by row, found the other writer's row and updated it: its local-only columns
    # stay as that writer left them.
    assert _rows() == {**CONVERGED, 4: ("Title 4", 1004, "theirs", False)}


def test_a_record_whose_id_a_concurrent_writer_keeps_taking_fails_alone_with_its_id(remote, other) -> None:
    stolen: list[int] = []

    def take_4_then_6(sql: str, values: list[Any]) -> None:
        # First batch 2's insert (4 and 6), then, when the batch is redone row by row, the insert of 6 alone.
        if _is_insert(sql) and 4 in values and not stolen:
            _insert_concurrently(other, 4)
            stolen.append(4)
        elif _is_insert(sql) and 6 in values and 4 not in values and stolen == [4]:
            _insert_concurrently(other, 6)
            stolen.append(6)

    with _before_statement(take_4_then_6):
        result = sync_model(Article, batch_size=BATCH)

    assert stolen == [4, 6]
    assert result.status == "partial" and result.failed == 1
    [error] = result.errors
    assert error.record_id == 6 and "already exists" in error.message and "record id 6" in error.message
    # The rest of the batch (4 merged, 5 updated) and the other batches are written; 6 is the other writer's row.
    theirs = ("Theirs", 0, "theirs", False)
    assert _rows() == {**CONVERGED, 4: ("Title 4", 1004, "theirs", False), 6: theirs}

    again = sync_model(Article, batch_size=BATCH)

    assert again.status == "succeeded", again.errors
    assert _rows() == {**CONVERGED, 4: ("Title 4", 1004, "theirs", False), 6: ("Title 6", 1006, "theirs", False)}
