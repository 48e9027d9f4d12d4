"""Pages a campaign would use: constituencies with their MP and party, a search box, a detail page."""

from django.db.models import Q, QuerySet
from django.views.generic import DetailView, ListView

from .models import Constituency


def _constituencies() -> QuerySet[Constituency]:
    return Constituency.objects.select_related("current_mp__latest_party").order_by("name")


class ConstituencyListView(ListView):
    """Every constituency with its MP and party; ``?q=`` searches constituency, MP and party names."""

    template_name = "constituencies/list.html"
    context_object_name = "constituencies"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Constituency]:
        queryset = _constituencies()
        query = self.request.GET.get("q", "").strip()
        if query:
            queryset = queryset.filter(
                Q(name__icontains=query)
                | Q(current_mp__name__icontains=query)
                | Q(current_mp__latest_party__name__icontains=query)
            )
        return queryset

    def get_context_data(self, **kwargs):  # type: ignore[no-untyped-def]
        context = super().get_context_data(**kwargs)
        context["q"] = self.request.GET.get("q", "")
        return context


class ConstituencyDetailView(DetailView):
    """One constituency, its MP (with thumbnail) and the MP's party."""

    template_name = "constituencies/detail.html"
    context_object_name = "constituency"

    def get_queryset(self) -> QuerySet[Constituency]:
        return _constituencies()
