"""Django system checks for pyck (`manage.py check`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.core.exceptions import FieldDoesNotExist

from .base import Datasource
from .conf import DEFAULTS
from .exceptions import ConfigurationError
from .models.registry import synced_models
from .models.synced import SyncedModel
from .sliding_windows import is_redis_cache
from .sync.attributes import resource_attributes, undeclared_step
from .sync.children import ChildListing
from .sync.lookups import is_indexed
from .sync.plan import reverse_relations
from .sync.through import through_problems


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn about keys in the `PYCK` setting that pyck does not know (usually a typo)."""
    user = getattr(settings, "PYCK", None)
    if user is None:
        return []
    if not isinstance(user, dict):
        return [checks.Error("The PYCK setting must be a dict.", hint="PYCK = {'HTTP_TIMEOUT': 10}", id="pyck.E001")]
    unknown = sorted(set(user) - set(DEFAULTS))
    return [
        checks.Warning(
            f"Unknown key {key!r} in the PYCK setting; it is ignored.",
            hint=f"The known keys are: {', '.join(sorted(DEFAULTS))}.",
            id="pyck.W001",
        )
        for key in unknown
    ]


@checks.register(deploy=True)
def check_external_id_indexes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Advise an index on each synced model's external id; a deployment check (`manage.py check --deploy`).

    Without one, a listing reads the table's whole external id -> primary key map into memory once per run
    instead of looking each batch's rows up by index: nothing at the size of most tables (the guide's models have
    no index), a cost once a table holds hundreds of thousands of rows, when the sync's result says so too.

    ========== ==================================================================================
    pyck.W010  the `external_id` field has no index
    ========== ==================================================================================
    """
    messages: list[checks.CheckMessage] = []
    for model in _checked_models(app_configs):
        try:
            field = model._meta.get_field(model.sync_config.external_id)
        except FieldDoesNotExist:
            continue  # pyck.E011
        if not is_indexed(model, field):
            messages.append(
                checks.Warning(
                    f"{model._meta.label}.{field.name} (the external id) has no index, so every sync reads the "
                    "table's whole external id -> primary key map into memory instead of looking rows up by index.",
                    hint="Add db_index=True (or unique=True if the remote ids are unique) to the field.",
                    obj=model,
                    id="pyck.W010",
                )
            )
    return messages


@checks.register()
def check_synced_models(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Check every registered synced model's `SyncConfig` against the model and its resource type.

    ========== ==================================================================================
    pyck.E010  `sync_config.datasource` is not a `Datasource` instance
    pyck.E011  `external_id` names no field of the model
    pyck.E012  `field_map` names a model field that does not exist
    pyck.E013  a synced relation points at a model that is not a `SyncedModel`
    pyck.E014  a synced many-to-many field's own `through` model has a required column the sync cannot fill, or
               `through_map` names something it cannot map
    pyck.E018  `field_map` reads an attribute the resource type does not declare (was the warning `pyck.W011`)
    pyck.E015  `Incremental` has no `param` and the datasource does not implement `list_changed()`
    pyck.E016  `Incremental.field` is not an attribute of the resource type
    pyck.E019  `ForEach.field` is not a foreign key to a `SyncedModel`, or `ForEach.value` no field of it
    ========== ==================================================================================
    """
    errors: list[checks.CheckMessage] = []
    for model in _checked_models(app_configs):
        errors.extend(_check_model(model))
    return errors


def _checked_models(app_configs: Any) -> list[Any]:
    """The registered synced models, limited to `app_configs` when `manage.py check` names apps."""
    return [m for m in synced_models() if app_configs is None or m._meta.app_config in app_configs]


def _check_model(model: Any) -> list[checks.CheckMessage]:
    config = model.sync_config
    label = model._meta.label
    errors: list[checks.CheckMessage] = []
    if not isinstance(config.datasource, Datasource):
        errors.append(
            checks.Error(
                f"{label}.sync_config.datasource is {config.datasource!r}, not a Datasource.",
                hint="Pass a Datasource instance, e.g. SyncConfig(datasource=parliament.constituencies).",
                obj=model,
                id="pyck.E010",
            )
        )
    try:
        model._meta.get_field(config.external_id)
    except FieldDoesNotExist:
        errors.append(
            checks.Error(
                f"{label}: SyncConfig(external_id={config.external_id!r}) names no field of the model.",
                hint=f"Add `{config.external_id} = models.IntegerField(db_index=True)` or set external_id to an existing field.",
                obj=model,
                id="pyck.E011",
            )
        )
    field_map = config.field_map or {}
    names = {f.name for f in model._meta.get_fields() if not f.auto_created or f.concrete} | set(reverse_relations(model))
    for name in sorted(set(field_map) - names):
        errors.append(
            checks.Error(
                f"{label}: SyncConfig(field_map=...) names {name!r}, which is not a field of the model.",
                hint=f"field_map keys are model field names: {', '.join(sorted(names))}.",
                obj=model,
                id="pyck.E012",
            )
        )
    attributes = resource_attributes(getattr(config.datasource, "resource_type", None))
    candidates = [(f.name, f) for f in [*model._meta.concrete_fields, *model._meta.many_to_many]]
    candidates += list(reverse_relations(model).items())
    synced_m2m: list[Any] = []
    for name, field in candidates:
        if not field.is_relation or name == "id" or field_map.get(name, "") is None:
            continue
        mapped = name in field_map or (attributes is not None and (name in attributes or getattr(field, "attname", None) in attributes))
        related = field.related_model
        if mapped and not (isinstance(related, type) and issubclass(related, SyncedModel)):
            errors.append(
                checks.Error(
                    f"{label}.{name} is synced but relates to {getattr(related, '__name__', related)}, which is not a SyncedModel.",
                    hint=f"Make {getattr(related, '__name__', related)} a SyncedModel, or exclude the field: field_map={{{name!r}: None}}.",
                    obj=model,
                    id="pyck.E013",
                )
            )
        elif mapped and field.many_to_many:
            synced_m2m.append(field)
    for message, hint in through_problems(model, synced_m2m):
        errors.append(checks.Error(message, hint=hint, obj=model, id="pyck.E014"))
    resource_type = getattr(config.datasource, "resource_type", None)
    for name, source in sorted(field_map.items()):
        undeclared = undeclared_step(resource_type, source) if source is not None else None
        if undeclared is not None:
            errors.append(
                checks.Error(
                    f"{label}: SyncConfig(field_map={{{name!r}: {source!r}}}) reads {undeclared.describe()}, which "
                    f"the resource type {undeclared.owner_name} does not declare: the sync would leave {name} empty "
                    "in every row, so it refuses to run.",
                    hint=f"{undeclared.suggestion()} Correct the path; a computed value can be a @property of "
                    f"{undeclared.owner_name}.",
                    obj=model,
                    id="pyck.E018",
                )
            )
    errors.extend(_check_incremental(model, attributes))
    errors.extend(_check_for_each(model))
    return errors


def _check_for_each(model: Any) -> list[checks.CheckMessage]:
    """What the run of a child listing (`SyncConfig.for_each`) would refuse, said before it runs."""
    try:
        ChildListing.for_model(model)
    except ConfigurationError as error:
        hint = "ForEach(field=...) names the model's ForeignKey to its parent; ForEach(value=...) a field of the parent."
        return [checks.Error(str(error), hint=hint, obj=model, id="pyck.E019")]
    return []


def _check_incremental(model: Any, attributes: set[str] | None) -> list[checks.CheckMessage]:
    incremental = model.sync_config.incremental
    datasource = model.sync_config.datasource
    if incremental is None or not isinstance(datasource, Datasource):
        return []
    label = model._meta.label
    errors: list[checks.CheckMessage] = []
    if incremental.param is None and type(datasource).list_changed is Datasource.list_changed:
        errors.append(
            checks.Error(
                f"{label}: SyncConfig(incremental=Incremental(field={incremental.field!r})) has no param, and "
                f"{datasource} does not implement list_changed(), so incremental runs cannot ask for changes.",
                hint="Set Incremental(param=...) to the list() argument (query parameter) taking the cursor, or "
                "implement list_changed(since, **filter) on the datasource.",
                obj=model,
                id="pyck.E015",
            )
        )
    if attributes is not None and incremental.field.split(".")[0] not in attributes:
        errors.append(
            checks.Error(
                f"{label}: Incremental(field={incremental.field!r}) reads {incremental.field.split('.')[0]!r}, which "
                f"{getattr(datasource.resource_type, '__name__', 'the resource type')} does not declare: the cursor "
                "would never move.",
                hint=f"The resource attributes are: {', '.join(sorted(attributes))}.",
                obj=model,
                id="pyck.E016",
            )
        )
    return errors


@checks.register(checks.Tags.caches)
def check_request_budgets(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Check where each request budget of a synced model's datasource counts.

    A `RequestBudget` only holds across processes when counted in Redis (its
    `cache` names Django's `RedisCache` or django-redis's) or Memcached; any other cache counts in each process
    for itself.

    ========== ==================================================================================
    pyck.E017  `RequestBudget(cache=...)` names no cache in `CACHES`
    pyck.W012  the budget's cache is neither Redis nor Memcached: it keeps nothing (dummy), or the budget is
               counted in each process for itself (local memory, file, database)
    ========== ==================================================================================
    """
    messages: list[checks.CheckMessage] = []
    for model in _checked_models(app_configs):
        datasource = getattr(model.sync_config, "datasource", None)
        budget = getattr(datasource, "request_budget", None)
        if budget is None or not hasattr(budget, "cache"):
            continue
        where = f"{model._meta.label}: the request budget of {datasource}"
        try:
            cache = caches[budget.cache]
        except InvalidCacheBackendError:
            messages.append(
                checks.Error(
                    f"{where} uses the cache {budget.cache!r}, which is not in the CACHES setting.",
                    hint="Add a Redis cache under that alias, or name one in RequestBudget(cache=...).",
                    obj=model,
                    id="pyck.E017",
                )
            )
            continue
        if is_redis_cache(cache) or isinstance(cache, BaseMemcachedCache):
            continue
        messages.append(
            checks.Warning(
                f"{where} is counted in the cache {budget.cache!r} ({type(cache).__name__}), which "
                f"{_budget_cache_problem(cache)}.",
                hint="Count budgets in Redis, which every process shares: name a "
                "django.core.cache.backends.redis.RedisCache (or django-redis, or Memcached) cache in "
                "RequestBudget(cache=...).",
                obj=model,
                id="pyck.W012",
            )
        )
    return messages


def _budget_cache_problem(cache: Any) -> str:
    if isinstance(cache, DummyCache):
        return "keeps nothing: every request of that datasource will fail with a ConfigurationError"
    if isinstance(cache, LocMemCache):
        return "each process keeps for itself: every process would get the whole budget"
    return (
        "is neither Redis nor Memcached: the budget's sliding window is kept in each process for itself, so "
        "every process would get the whole budget"
    )


@checks.register(deploy=True)
def check_sqlite_writers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """On `manage.py check --deploy`: warn about a SQLite database whose transactions begin without the write lock.

    Several processes writing one SQLite file (clocks, workers, the web server's pushes and "Sync now") then
    refuse each other's transactions ("database is locked") instead of taking turns: see the "SQLite" section of
    the deployment docs.

    ========== ==================================================================================
    pyck.W020  a SQLite database without `OPTIONS={"transaction_mode": "IMMEDIATE"}`
    ========== ==================================================================================
    """
    messages: list[checks.CheckMessage] = []
    for alias, database in settings.DATABASES.items():
        if not str(database.get("ENGINE", "")).endswith("sqlite3"):
            continue
        mode = str((database.get("OPTIONS") or {}).get("transaction_mode") or "DEFERRED").upper()
        if mode in ("IMMEDIATE", "EXCLUSIVE"):
            continue
        messages.append(
            checks.Warning(
                f"The database {alias!r} is SQLite with transactions that begin without the write lock "
                f"({mode}): several processes writing it at once (clocks, workers, pushes, the admin's \"Sync "
                "now\") refuse each other's transactions (\"database is locked\"), failing records and syncs.",
                hint='Set "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30} on it (a timeout longer than '
                "a batch takes to write), or let one process write it.",
                id="pyck.W020",
            )
        )
    return messages
