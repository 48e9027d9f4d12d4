from django.urls import path

from .views import ConstituencyDetailView, ConstituencyListView

app_name = "constituencies"
urlpatterns = [
    path("", ConstituencyListView.as_view(), name="list"),
    path("<uuid:pk>/", ConstituencyDetailView.as_view(), name="detail"),
]
