"""`StripeDatasource` and `StripePaginator` on `responses`: headers, paging, expanding, deleted stubs, errors."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from pyck.contrib.stripe import (
    Customer,
    DeletedCustomer,
    StripeDatasource,
    StripePaginator,
    Subscription,
)
from pyck.core.exceptions import ConfigurationError, NotFoundError, ResponseError

API = "https://api.stripe.com/v1"
KEY = "sk_test_responses_0123456789"


@pytest.fixture(autouse=True)
def key(settings: Any) -> None:
    settings.STRIPE_API_KEY = KEY


def page(ids: list[str], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "url": "/v1/customers", "has_more": has_more, "data": [{"id": i, "object": "customer"} for i in ids]}


@responses.activate
def test_list_pages_until_has_more_is_false() -> None:
    responses.get(API + "/customers", json=page(["cus_3", "cus_2"], True),
                  match=[responses.matchers.query_param_matcher({"limit": "100"})])
    responses.get(API + "/customers", json=page(["cus_1"], False),
                  match=[responses.matchers.query_param_matcher({"limit": "100", "starting_after": "cus_2"})])
    customers = StripeDatasource(resource_type=Customer)
    assert [c.id for c in customers.list()] == ["cus_3", "cus_2", "cus_1"]
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"


@responses.activate
def test_a_page_ending_with_an_id_seen_before_stops_the_listing() -> None:
    responses.get(API + "/customers", json=page(["cus_2"], True))
    customers = StripeDatasource(resource_type=Customer, retries=0)
    with pytest.raises(ResponseError, match="last on two pages|same as page"):
        list(customers.list())


def test_the_limit_is_between_1_and_100() -> None:
    with pytest.raises(ValueError, match="1 to 100"):
        StripePaginator(limit=101)


@responses.activate
def test_get_of_a_deleted_customer_is_not_found() -> None:
    responses.get(API + "/customers/cus_gone", json={"id": "cus_gone", "object": "customer", "deleted": True})
    with pytest.raises(NotFoundError, match="deleted"):
        StripeDatasource(resource_type=Customer).get("cus_gone")


@responses.activate
def test_expand_is_sent_on_get_and_under_data_on_lists() -> None:
    responses.get(API + "/subscriptions/sub_1", json={"id": "sub_1", "customer": {"id": "cus_1", "deleted": True}},
                  match=[responses.matchers.query_param_matcher({"expand[]": "customer"})])
    responses.get(API + "/subscriptions", json={"has_more": False, "data": [{"id": "sub_2", "customer": {"id": "cus_2", "email": "a@b"}}]},
                  match=[responses.matchers.query_param_matcher({"expand[]": "data.customer", "limit": "100"})])
    subscriptions = StripeDatasource(resource_type=Subscription, expand=("customer",))
    assert subscriptions.get("sub_1").customer == DeletedCustomer(id="cus_1", deleted=True)
    (listed,) = subscriptions.list()
    assert isinstance(listed.customer, Customer) and listed.customer.email == "a@b"


@responses.activate
def test_an_error_quotes_stripes_message_and_not_the_key() -> None:
    responses.get(API + "/customers/cus_x", status=400,
                  json={"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer"}})
    with pytest.raises(ResponseError) as caught:
        StripeDatasource(resource_type=Customer, retries=0).get("cus_x")
    assert "Stripe says (resource_missing): No such customer" in str(caught.value)
    assert KEY not in str(caught.value)


def test_no_key_is_a_configuration_error(settings: Any) -> None:
    del settings.STRIPE_API_KEY
    with pytest.raises(ConfigurationError, match="STRIPE_API_KEY"):
        StripeDatasource(resource_type=Customer).get_headers()


def test_path_and_object_type_follow_the_resource_class() -> None:
    class Member(Customer):
        """A subclass keeping one more field."""

    members = StripeDatasource(resource_type=Member)
    assert (members.path, members.object_type, members.rate_limit, members.rate_limit_key) == (
        "/customers", "customer", 25.0, "stripe:/customers"
    )
    with pytest.raises(ConfigurationError, match="path="):
        StripeDatasource(resource_type=dict)
