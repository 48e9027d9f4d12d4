"""Django admin for pyck: the `SyncRun` history, read-only, and
`SyncedModelAdmin` for your synced models."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from .models import registry
from .models.leases import SyncLease, describe_holder
from .sync.cursor import describe as describe_cursor
from .sync.plan import get_plan
from .exceptions import ConfigurationError, SyncInProgressError
from .models import CronTask, PartitionedRun, PartitionRun, SyncRun, SyncState, SyncStatus
from .overview import (
    describe_checkpoint,
    describe_mode,
    human_interval,
    human_seconds,
    partition_states,
    when,
)
from .sync import SyncResult

# Registers the Events list of the webhook inbox.
from .webhooks import admin as webhooks_admin  # noqa: F401

# Registers the health page and the incidents of the alerts.
from .health import admin as health_admin  # noqa: F401

__all__ = [
    "CronTaskAdmin",
    "PartitionedRunAdmin",
    "ReadOnlyAdmin",
    "SyncRunAdmin",
    "SyncStateAdmin",
    "SyncedModelAdmin",
]

logger = logging.getLogger("pyck.admin")


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A ModelAdmin that lists and shows rows but never adds, changes or deletes them (pyck writes them)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _record_counts(run: Any) -> str:
    """A run's record counts in one short cell, those that are not 0: `+3 ~1 =5 −2 ✖1` (created, updated,
    unchanged, deleted, failed), or `0`; spelt out in full in its `title`."""
    numbers = [run.created, run.updated, run.unchanged, run.deleted, run.failed]
    words = ", ".join(f"{number} {word}" for number, word in zip(numbers, _COUNT_WORDS))
    text = " ".join(f"{sign}{number}" for sign, number in zip(_COUNT_SIGNS, numbers) if number) or "0"
    return format_html('<span title="{}" style="white-space: nowrap">{}</span>', words, text)


_COUNT_SIGNS = ["+", "~", "=", "\u2212", "\u2716"]
_COUNT_WORDS = ["created", "updated", "unchanged", "deleted", "failed"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """Lists sync runs with their outcome; nothing can be added, changed or deleted (the engine writes them).

    Each row fits a 1400 px screen: the duration is humanised, the five record counts share one column (hover
    it for the words), and "resumed" shows its tick only for a run that went on from a checkpoint (its template,
    `admin/pyck/sync_run_change_list.html`, hides the cross of the runs that did not).
    """

    list_display = ["model", "partition", "mode", "resumed", "status", "started_text", "duration_text", "counts_text"]
    list_filter = ["status", "mode", "resumed", "model"]
    search_fields = ["model"]
    date_hierarchy = "started"
    ordering = ["-started"]
    change_list_template = "admin/pyck/sync_run_change_list.html"

    def get_list_display(self, request: HttpRequest) -> list[str]:  # type: ignore[override]
        """The declared `list_display`, without "partition" while no run was of a partition."""
        names = list(super().get_list_display(request))
        if not SyncRun.objects.exclude(partition="").exists():
            names = [name for name in names if name != "partition"]
        return names

    @admin.display(description="started", ordering="started")
    def started_text(self, obj: SyncRun) -> str:
        """When the run started, local time to the second, on one line."""
        return format_html('<span style="white-space: nowrap">{}</span>', when(obj.started))

    @admin.display(description="duration", ordering="duration")
    def duration_text(self, obj: SyncRun) -> str:
        """How long the run took, humanised (`14 ms`, `2.3 s`, `1 min 5 s`)."""
        return human_seconds(obj.duration)

    @admin.display(description="records")
    def counts_text(self, obj: SyncRun) -> str:
        """The record counts in one column (hover a cell for the words)."""
        return _record_counts(obj)


class PartitionRunInline(admin.TabularInline):  # type: ignore[type-arg]
    """The partitions of a partitioned run, read-only, in their order."""

    model = PartitionRun
    fields = ["name", "status", "attempts", "mode", "resumed", "started", "finished", "created", "updated", "unchanged", "failed", "owner"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PartitionedRun)
class PartitionedRunAdmin(ReadOnlyAdmin):
    """Syncs of partitioned models spread over Django Tasks workers, each with its partitions, read-only: the
    workers write them (see `pyck.core.cron.partitions.enqueue_partitioned_sync`)."""

    list_display = ["__str__", "model", "mode", "status", "started", "finished", "counts_text"]
    list_filter = ["status", "model"]
    search_fields = ["model"]
    date_hierarchy = "started"
    ordering = ["-started"]
    inlines = [PartitionRunInline]

    @admin.display(description="records")
    def counts_text(self, obj: PartitionedRun) -> str:
        """The record counts in one column (hover a cell for the words)."""
        return _record_counts(obj)


@admin.register(CronTask)
class CronTaskAdmin(ReadOnlyAdmin):
    """Each periodic task's schedule state, read-only: the cron clock writes it (`run_cron_tasks --list`
    shows the same)."""

    list_display = ["name", "interval_text", "last_status", "last_started_text", "last_duration_text", "next_due_text", "run_count"]
    list_filter = ["last_status"]
    search_fields = ["name"]
    ordering = ["name"]

    @admin.display(description="interval", ordering="interval")
    def interval_text(self, obj: CronTask) -> str:
        """The task's interval, humanised (`1 day`, `15 min`; `-` for a synced model the clock does not run)."""
        return human_interval(obj.interval)

    @admin.display(description="last started", ordering="last_started")
    def last_started_text(self, obj: CronTask) -> str:
        """When the task last started, local time to the second, on one line."""
        return format_html('<span style="white-space: nowrap">{}</span>', when(obj.last_started))

    @admin.display(description="last duration", ordering="last_duration")
    def last_duration_text(self, obj: CronTask) -> str:
        """How long the last run took, humanised."""
        return human_seconds(obj.last_duration.total_seconds() if obj.last_duration is not None else None)

    @admin.display(description="next due", ordering="next_due")
    def next_due_text(self, obj: CronTask) -> str:
        """When the task is next due, local time to the second, on one line."""
        return format_html('<span style="white-space: nowrap">{}</span>', when(obj.next_due))


# --- Synced models ---------------------------------------------------------------------------------------------

# The level of the "Sync now" report for each SyncResult.status.
_SYNC_MESSAGE_LEVELS = {"succeeded": messages.SUCCESS, "partial": messages.WARNING, "failed": messages.ERROR}


class SyncedModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A `ModelAdmin` for `SyncedModel` subclasses.

    * Fields the model's `SyncConfig` fills from its datasource are read-only: the next sync would overwrite
      an edit. So are `external_id` and `last_sync_time`, which are also added to `list_display`.
    * Fields with no counterpart on the resource, or excluded with `field_map={"name": None}`, are yours and
      stay editable.
    * "Sync now" syncs the model and reports the result: an action (`sync_now`), and a button above the
      list, which also works on an empty list (actions need a selected row), posting to `sync_view`.
      The sync runs inside the web request: for models that take minutes, rely on `run_cron_tasks` instead.
      It holds the model's sync lease (see `pyck.core.models.leases.SyncLease`): while any other sync of the
      model runs (the cron clock, a worker, `Model.sync()`), it starts nothing and says who holds the lease;
      when done, it records the run on the model's cron task, so that the clock's next sync of the model comes
      `sync_interval` later.
    * Rows cannot be added by hand (they come from the datasource); deleting them is allowed.

    Register a model with it directly, subclass it, or mix it in front of your own base admin:

    ```python
    admin.site.register(Party, SyncedModelAdmin)

    @admin.register(Constituency)
    class ConstituencyAdmin(SyncedModelAdmin):
        list_display = ["name", "current_mp__name"]
        search_fields = ["name"]

    class MPAdmin(SyncedModelAdmin, MyBaseAdmin): ...
    ```

    If you set your own `actions`, keep `"sync_now"` in them; if you set your own `change_list_template`,
    extend `admin/pyck/synced_model_change_list.html` to keep the button.
    """

    actions = ["sync_now"]
    change_list_template = "admin/pyck/synced_model_change_list.html"

    def get_urls(self) -> list[URLPattern]:  # type: ignore[override]
        """The admin's URLs plus `<changelist>/sync/` (`sync_view`, named `<app>_<model>_sync`)."""
        name = f"{self.opts.app_label}_{self.opts.model_name}_sync"
        return [path("sync/", self.admin_site.admin_view(self.sync_view), name=name), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The change list, with what the "Sync now" button needs in its context."""
        context = {
            "has_sync_permission": self.has_sync_permission(request),
            "sync_url": reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_sync"),
            **self._sync_state_context(request),
        }
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def sync_view(self, request: HttpRequest) -> HttpResponse:
        """Sync the model (POST only, needs `has_sync_permission`), report it and go back to the list."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_sync_permission(request):
            raise PermissionDenied
        self._sync_and_report(request)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist")
        )

    def get_synced_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        """Return the names of the model fields a sync writes, which the admin shows read-only.

        They are the sync engine's own mapping (`SyncConfig.field_map` plus the fields named like a resource
        attribute), so they follow the config. Override to make a synced field editable anyway (an edit lasts
        until the next sync) or to protect more fields.
        """
        # Inverse relations are synced too, but they are not fields of this model's form.
        return [mapping.name for mapping in get_plan(self.model).mappings if mapping.kind != "reverse"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        """The declared `readonly_fields`, then `external_id`, `last_sync_time` and the synced fields."""
        names = [
            *super().get_readonly_fields(request, obj),
            self.model.sync_config.external_id,
            "last_sync_time",
            *self.get_synced_fields(request, obj),
        ]
        return list(dict.fromkeys(names))

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """The change list, whose `last_sync_time` column reads "last changed by a sync" (see `last_changed`)."""
        changelist = super().get_changelist_instance(request)
        if "last_sync_time" not in (changelist.list_display_links or ()):
            changelist.list_display = [
                last_changed if name == "last_sync_time" else name for name in changelist.list_display
            ]
        return changelist

    def get_list_display(self, request: HttpRequest) -> list[str]:  # type: ignore[override]
        """The declared `list_display` with `external_id` and `last_sync_time` appended if missing."""
        names = list(super().get_list_display(request))
        for name in (self.model.sync_config.external_id, "last_sync_time"):
            if name not in names:
                names.append(name)
        return names

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add: bool = False, change: bool = False,
        form_url: str = "", obj: Any = None,
    ) -> HttpResponse:
        """The change page, without Save buttons when none of its fields can be edited (every one is synced)."""
        if not context["adminform"].form.fields:
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """No: rows come from the datasource. Override to allow local rows (give them an `external_id`)."""
        return False

    def has_sync_permission(self, request: HttpRequest) -> bool:
        """Whether the user may run "Sync now": those who may change the model. Override to restrict it."""
        return self.has_change_permission(request)

    @admin.action(description="Sync now", permissions=["sync"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Sync the whole model from its datasource now (the selection only picks the model) and report the
        `SyncResult`: a success message, a warning when some records failed, an error
        when the listing failed. The `SyncRun` history keeps the details."""
        self._sync_and_report(request)

    def _sync_and_report(self, request: HttpRequest) -> None:
        label = self.model._meta.label
        try:
            # The model's sync lease: refused at once while the clock, a worker or any other sync of the model
            # holds it; recorded on the model's cron task when done, so the clock does not sync it again at once.
            with SyncLease(self.model, kind="admin", reschedule=True) as lease:
                result = self.model.sync()
                lease.record(result)
        except SyncInProgressError as busy:
            self.message_user(
                request,
                f"A sync of {label} is running already, by {describe_holder(busy.holder)}: nothing was started. "
                "Try again when it has finished; the sync run history shows it.",
                messages.WARNING,
            )
            return
        except Exception as error:
            # The engine has recorded the failed SyncRun; keep the admin page up and let error monitoring know.
            logger.exception("Sync now: the sync of %s crashed", label)
            self.message_user(
                request,
                f"The sync of {label} from {self.model.sync_config.datasource} crashed: {error!r}. "
                f"See the server log and the sync run history.",
                messages.ERROR,
            )
            return
        level = _SYNC_MESSAGE_LEVELS.get(result.status, messages.WARNING)
        self.message_user(request, self.get_sync_message(result), level)

    def get_sync_message(self, result: SyncResult) -> str:
        """Return the report of a "Sync now": the result's summary and its first three errors.

        Override to word it differently or to add links.
        """
        message = str(result)
        # A failed result's summary says its first error already.
        errors = result.errors[1:] if result.status == "failed" else result.errors
        if errors:
            shown = "; ".join(error.message for error in errors[:3])
            hidden = max(len(errors), result.failed) - 3
            more = f" (and {hidden} more)" if hidden > 0 else ""
            message = f"{message}. Errors: {shown}{more}"
        return message

    def get_sync_state_summary(self, request: HttpRequest) -> str:
        """Return the line shown above the change list about the model's sync: its mode and, for an
        unpartitioned model, its cursor, the checkpoint of an unfinished run and the last full sync.

        Override to word it differently; return `""` to hide it.
        """
        incremental = self.model.sync_config.incremental is not None
        states = partition_states(self.model)
        text = f"Sync: {describe_mode(self.model)}."
        if len(states) == 1 and not states[0].partition:
            state = states[0]
            parts = [f"cursor {state.cursor}"] if incremental else []
            parts += [f"checkpoint {state.checkpoint}", f"last full sync {when(state.last_full_sync)}"]
            details = "; ".join(parts)
            return f"{text} {details[0].upper()}{details[1:]}."
        unfinished = sum(state.checkpoint != "-" for state in states)
        return f"{text} {unfinished} of {len(states)} partitions have an unfinished run's checkpoint."

    def get_last_checked(self, request: HttpRequest) -> str:
        """Return the line shown above the change list on when the data was last checked: when the model's
        last successful sync run finished (a row's `last_sync_time` only moves when a sync changes it).

        Override to word it differently; return `""` to hide it.
        """
        runs = SyncRun.objects.filter(model=self.model._meta.label, status=SyncStatus.SUCCEEDED)
        finished = runs.exclude(finished=None).order_by("-finished").values_list("finished", flat=True).first()
        if finished is None:
            return "Data last checked: never (no sync of it has succeeded yet)."
        return f"Data last checked: {when(finished)} (the last successful sync)."

    def _sync_state_context(self, request: HttpRequest) -> dict[str, Any]:
        context: dict[str, Any] = {
            "sync_state": self.get_sync_state_summary(request),
            "sync_checked": self.get_last_checked(request),
        }
        site = self.admin_site
        if site.is_registered(SyncState) and site.get_model_admin(SyncState).has_view_permission(request):
            url = reverse(f"{site.name}:{SyncState._meta.app_label}_{SyncState._meta.model_name}_changelist")
            context["sync_state_url"] = f"{url}?model__exact={self.model._meta.label}"
        return context


# --- Sync state ------------------------------------------------------------------------------------------------


@admin.display(description="last changed by a sync", ordering="last_sync_time")
def last_changed(obj: Any) -> Any:
    """A synced row's `last_sync_time`: when a sync last changed it (a sync that finds it unchanged leaves it).

    `SyncedModelAdmin` shows it under this header instead of the field's own "last sync time", which reads as
    if the row had not been checked since; its name keeps the column's `column-last_sync_time` class.
    """
    return obj.last_sync_time


last_changed.__name__ = "last_sync_time"


def _datasource_of(label: str) -> Any:
    try:
        return registry.get_model(label).sync_config.datasource
    except ConfigurationError:
        return None  # a model no longer defined: describe_checkpoint() still redacts URLs


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    """Each synced model's (partition's) incremental cursor, unfinished-run checkpoint and last full sync,
    read-only: the sync engine writes them (`run_cron_tasks --list` shows the same).

    The "Reset sync state" action deletes the selected rows, so that the next run of those models (partitions)
    is a full listing from the start, as `run_cron_tasks --reset` does. It needs the permission to delete
    sync states (`pyck.delete_syncstate`); rows cannot be deleted or edited otherwise.
    """

    list_display = [
        "model",
        "partition",
        "cursor_text",
        "cursor_updated",
        "checkpoint_text",
        "checkpoint_updated",
        "last_full_sync",
    ]
    list_filter = ["model"]
    search_fields = ["model", "partition"]
    ordering = ["model", "partition"]
    actions = ["reset_sync_state"]
    # A row's page shows the cursor and checkpoint described, not their JSON: a checkpoint stored before
    # positions were stripped of credentials may hold a next-page link with a key in it.
    fields = readonly_fields = [
        "model", "partition", "cursor_text", "cursor_updated", "checkpoint_text", "checkpoint_updated", "last_full_sync",
        "pushed",
    ]

    @admin.display(description="cursor")
    def cursor_text(self, obj: SyncState) -> str:
        """The cursor as text (`"-"`: none yet)."""
        return describe_cursor(obj.cursor)

    @admin.display(description="checkpoint")
    def checkpoint_text(self, obj: SyncState) -> str:
        """Where an unfinished run's listing had got to, where the next run goes on (`"-"`: none)."""
        return describe_checkpoint(obj.checkpoint, _datasource_of(obj.model))

    def has_reset_permission(self, request: HttpRequest) -> bool:
        """Whether the user may reset sync states: those who may delete them (`pyck.delete_syncstate`)."""
        codename = get_permission_codename("delete", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    @admin.action(description="Reset sync state (next run reads everything)", permissions=["reset"])
    def reset_sync_state(self, request: HttpRequest, queryset: QuerySet[SyncState]) -> None:
        """Delete the selected rows: the next run of each model (partition) is a full listing from the start.

        A run going on meanwhile can no longer record its progress, so the run after it starts over too.
        """
        names = [str(state) for state in queryset]
        queryset.delete()
        logger.info("Sync state reset by %s: %s", request.user, ", ".join(names))
        self.message_user(
            request,
            f"Reset the sync state of {', '.join(names)}: the next run of each reads the whole listing from the start.",
            messages.SUCCESS,
        )
