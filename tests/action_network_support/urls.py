"""The URLs of the docs page "Action Network" (block `an-urls`)."""

from django.urls import path

from pyck.contrib.action_network.webhooks import receive_action_network_webhook

urlpatterns = [path("webhooks/action-network/", receive_action_network_webhook)]
