"""Errors raised by pyck.

The hierarchy:

```text
PyckError                      base of everything pyck raises; do not raise directly
├── ConfigurationError         a datasource, SyncConfig or setting is wrong (also ImproperlyConfigured)
├── DatasourceError            talking to a datasource failed; do not raise directly
│   ├── NotFoundError          the record does not exist (HTTP 404 on ``get``)
│   ├── RateLimitError         429 after the retries, or the request budget is spent for too long
│   ├── ResponseError          any other non-2xx answer, or a body that is not the JSON expected
│   ├── TransportError         connection refused or reset, timeout, TLS failure
│   └── InvalidResourceError   the data does not fit the resource type
└── SyncError                  a sync could not be carried out
    └── SyncInProgressError    another process is syncing the model now: this sync was not started
```

Every `DatasourceError` carries the datasource, the URL with its secrets removed, the record id and
the field where they are known, and puts them in its message, so a log line alone says where to look. Its
message and URL never quote a secret the datasource has sent (see `pyck.core.redaction.redact_secrets`),
even when the remote side echoed one back.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .redaction import redact_secrets

__all__ = [
    "ConfigurationError",
    "DatasourceError",
    "InvalidResourceError",
    "NotFoundError",
    "PyckError",
    "RateLimitError",
    "ResponseError",
    "SyncError",
    "SyncInProgressError",
    "TransportError",
]


class PyckError(Exception):
    """Base class of every error pyck raises. Do not raise directly."""


class ConfigurationError(PyckError, ImproperlyConfigured):
    """A datasource, a `SyncConfig` or a setting is configured wrongly; the message says how to fix it."""


class DatasourceError(PyckError):
    """Base class of the errors met while reading from a datasource. Do not raise directly.

    Args:
        message: what went wrong, in one sentence. Secrets the datasource has sent (API keys, tokens) are
            blanked out of it, in case it quotes remote data that echoes them.
        datasource: the datasource (or its name) that was being read.
        url: the URL requested. Pass it through `pyck.core.redaction.redact_url` first if it may hold secrets.
        record_id: the id of the record concerned, if any.
        field: the dotted path of the field concerned, if any (`"latest_party.name"`).
        status_code: the HTTP status received, if any.
    """

    body: Any = None
    """The body of the HTTP answer that caused the error, secrets blanked out: the parsed JSON when it is
    JSON, else a short text excerpt; `None` when there was no answer or no body.
    """

    def __init__(
        self,
        message: str,
        *,
        datasource: Any = None,
        url: str | None = None,
        record_id: Any = None,
        field: str | None = None,
        status_code: int | None = None,
    ) -> None:
        if datasource is not None and not isinstance(datasource, str):
            message = redact_secrets(message, datasource)
            url = redact_secrets(url, datasource) if url else url
        self.reason = message
        self.datasource = datasource
        self.url = url
        self.record_id = record_id
        self.field = field
        self.status_code = status_code
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.datasource is not None:
            where.append(f"datasource {self.datasource}")
        if self.url:
            where.append(f"url {self.url}")
        if self.record_id is not None:
            where.append(f"record id {self.record_id!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{self.reason} ({', '.join(where)})" if where else self.reason

    def with_context(self, **context: Any) -> DatasourceError:
        """Return a copy of this error with `datasource`, `url`, `record_id` or `field` filled in.

        Values already set are kept; the copy has the same type and `__cause__`. Lower layers (the
        deserialiser) raise without knowing the datasource or URL; the layer that knows adds them.
        """
        known = {
            "datasource": self.datasource,
            "url": self.url,
            "record_id": self.record_id,
            "field": self.field,
            "status_code": self.status_code,
        }
        merged = {key: value if value is not None else context.get(key) for key, value in known.items()}
        copy = type(self)(self.reason, **merged)
        extra = {k: v for k, v in self.__dict__.items() if k not in known and k != "reason"}
        copy.__dict__.update(extra)
        copy.__cause__ = self.__cause__
        return copy

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments: make the error survive pickling (Django Tasks, multiprocessing).
        return (
            _rebuild,
            (
                type(self),
                self.reason,
                {
                    "datasource": str(self.datasource) if self.datasource is not None else None,
                    "url": self.url,
                    "record_id": self.record_id,
                    "field": self.field,
                    "status_code": self.status_code,
                },
                # The constructor's arguments are given above (the datasource by name): the state holds the rest,
                # not the datasource object, which holds locks and sessions that do not pickle.
                {k: v for k, v in self.__dict__.items() if k not in _CONTEXT},
            ),
        )


# The context arguments of DatasourceError, kept as attributes of the same names.
_CONTEXT = frozenset({"datasource", "url", "record_id", "field", "status_code"})


def _rebuild(cls: type[DatasourceError], message: str, kwargs: dict[str, Any], state: dict[str, Any]) -> Any:
    error = cls(message, **kwargs)
    error.__dict__.update({k: v for k, v in state.items() if k not in kwargs})
    return error


class NotFoundError(DatasourceError):
    """The record asked for does not exist (HTTP 404 from `get`, an answer that says the record is deleted: see
    `Datasource.is_tombstone`, or no such id in a `MockDatasource`)."""


class RateLimitError(DatasourceError):
    """The remote side answered 429 Too Many Requests, and kept doing so after the configured retries (or
    asked to wait longer than `HTTP_MAX_RETRY_AFTER`); or the datasource's
    `RequestBudget` is spent until further away than it may wait.

    `retry_after` holds the seconds to wait before trying again, when known.
    """

    retry_after: float | None = None


class ResponseError(DatasourceError):
    """A non-2xx answer other than 404 and 429, or a body that is not the JSON expected (HTML, truncated)."""


class TransportError(DatasourceError):
    """The request did not get an answer: connection refused or reset, timeout, TLS failure."""


class InvalidResourceError(DatasourceError):
    """The data received does not fit the resource type: a required field is missing or has the wrong type.

    Takes the arguments of `DatasourceError`, `keyless` and `location`.
    """

    keyless: bool = False
    """True when the record positively has no id: it was read (a JSON object), and its id field is absent,
    null or empty (a spreadsheet row whose key cell is empty). Such a record cannot be the record of any local
    row, so it does not stop a sync from deleting the rows missing from its listing. Leave it false when the
    id could not be read at all (the item is not an object): then nothing is deleted."""
    location: str | None = None
    """Where the record is, in the API's own terms, when that says more than its place in the listing (`"row 17"`
    of a spreadsheet): the sync's `"no_id"` warning names it rather than the record's ordinal."""

    def __init__(self, message: str, *, keyless: bool = False, location: str | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.keyless = keyless
        self.location = location


class SyncError(PyckError):
    """A sync could not be carried out (for example its listing failed part-way)."""


class SyncInProgressError(SyncError):
    """Another process or thread holds the model's sync lease (it is syncing the model, or merging its
    duplicate rows): this sync was not started, and nothing was written or recorded.

    Args:
        message: what happened and what to do, naming the model and the holder.
        model: the model's label (`"app_label.ModelName"`).
        holder: the lease owner, `kind@host:pid:random` (`kind`: `clock`, `worker`, `enqueued`, `admin`,
            `sync`, `merge`).
        until: when the holder's lease expires unless it renews it (it does, every third of
            `CRON_LEASE_DURATION`, while it runs).
    """

    def __init__(self, message: str, *, model: str, holder: str, until: Any = None) -> None:
        super().__init__(message)
        self.model = model
        self.holder = holder
        self.until = until

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments: make the error survive pickling (Django Tasks, multiprocessing).
        return (_rebuild_in_progress, (str(self), self.model, self.holder, self.until))


def _rebuild_in_progress(message: str, model: str, holder: str, until: Any) -> SyncInProgressError:
    return SyncInProgressError(message, model=model, holder=holder, until=until)
