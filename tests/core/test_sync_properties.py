"""Property test: whatever the remote side does between syncs, the table ends up mirroring the listing."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from pyck.core.datasources import MockDatasource, OnDelete
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Employee


@st.composite
def _states(draw: Any) -> list[list[r.EmployeeResource]]:
    """Successive remote listings of employees; managers (from the same listing) given by id or embedded."""
    states = []
    for _ in range(draw(st.integers(1, 3))):
        ids = draw(st.lists(st.integers(1, 30), unique=True, max_size=12))
        names = {i: draw(st.sampled_from(["Ann", "Bob", "Cy"])) for i in ids}
        managers = {i: draw(st.one_of(st.none(), st.sampled_from(ids))) for i in ids}
        records = []
        for i in ids:
            manager: Any = managers[i]
            if manager is not None and draw(st.booleans()):
                # An embedded copy, consistent with the listing, its own manager given by id or left out.
                copy = {"id": manager, "name": names[manager]}
                if draw(st.booleans()):
                    copy["manager"] = managers[manager]
                manager = copy
            records.append(r.EmployeeResource(id=i, name=names[i], manager=manager))
        states.append(records)
    return states


class MirrorTests(TestCase):
    @settings(max_examples=40, deadline=None)
    @given(states=_states(), batch_size=st.integers(1, 5))
    def test_the_table_mirrors_each_listing(self, states: list[list[r.EmployeeResource]], batch_size: int) -> None:
        config = Employee.sync_config
        original = config.datasource
        try:
            for records in states:
                config.datasource = MockDatasource(records, resource_type=r.EmployeeResource)
                result = sync_model(
                    Employee, batch_size=batch_size, on_delete=OnDelete.DELETE, max_delete_fraction=1.0
                )
                assert result.ok, result.errors

                expected = {}
                for record in records:
                    manager = record.manager["id"] if isinstance(record.manager, dict) else record.manager
                    expected[record.id] = (record.name, manager)
                actual = {
                    ext: (name, manager)
                    for ext, name, manager in Employee.objects.values_list("external_id", "name", "manager__external_id")
                }
                assert actual == expected
                assert result.created + result.updated + result.unchanged == len(records)
        finally:
            config.datasource = original
