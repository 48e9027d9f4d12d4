"""Pages a campaign would use: constituencies with their MP and party, a search box, a detail page."""

from typing import Any

from django.db.models import Q, QuerySet
from django.views.generic import DetailView, ListView

from pyck.core.models import SyncState

from .models import Constituency


def _constituencies() -> QuerySet[Constituency]:
    return Constituency.objects.select_related("current_mp__latest_party").order_by("name")


class ConstituencyListView(ListView):
    """Every constituency with its MP and party; ``?q=`` searches constituency, MP and party names."""

    template_name = "constituencies/list.html"
    context_object_name = "constituencies"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Constituency]:
        """The constituencies whose name, MP or party contains ``?q=`` (all without it), ordered by name."""
        queryset = _constituencies()
        query = self.request.GET.get("q", "").strip()
        if query:
            queryset = queryset.filter(
                Q(name__icontains=query)
                | Q(current_mp__name__icontains=query)
                | Q(current_mp__latest_party__name__icontains=query)
            )
        return queryset

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """Add the search text, ``q``, to fill the search box."""
        context = super().get_context_data(**kwargs)
        context["q"] = self.request.GET.get("q", "")
        return context


class ConstituencyDetailView(DetailView):
    """One constituency, its MP (with thumbnail) and the MP's party."""

    template_name = "constituencies/detail.html"
    context_object_name = "constituency"

    def get_queryset(self) -> QuerySet[Constituency]:
        """Constituencies with their MP and party in the same query."""
        return _constituencies()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """Add ``checked``: when the last complete listing of constituencies ended (``None``: never). A row's own
        ``last_sync_time`` is when a sync last changed it, which can be long before."""
        context = super().get_context_data(**kwargs)
        state = SyncState.objects.filter(model=Constituency._meta.label, partition="").first()
        context["checked"] = state.last_full_sync if state else None
        return context
