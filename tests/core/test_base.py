from dataclasses import dataclass

import pytest

from pyck.core.datasources import Datasource, MockDatasource, NotFoundError


@dataclass
class Party:
    id: int
    name: str


PARTIES = [Party(8, "Independent"), Party(4, "Conservative"), Party(15, "Labour")]


def test_mock_get_matches_ids_by_value_and_string():
    source = MockDatasource(PARTIES)
    assert source.get(4).name == "Conservative"
    assert source.get("15").name == "Labour"
    assert source.resource_type is Party


def test_mock_get_missing_raises_not_found_naming_the_id():
    source = MockDatasource(PARTIES, name="parties")
    with pytest.raises(NotFoundError, match=r"datasource parties.*record id 99"):
        source.get(99)


def test_mock_list_filters_and_orders():
    source = MockDatasource(PARTIES)
    assert [p.id for p in source.list(ordering="name")] == [4, 8, 15]
    assert [p.id for p in source.list(ordering="-id")] == [15, 8, 4]
    assert [p.name for p in source.list(id=8)] == ["Independent"]
    with pytest.raises(TypeError, match="colour"):
        list(source.list(colour="red"))


def test_mock_data_is_reassignable():
    source = MockDatasource(PARTIES)
    source.data = [Party(1, "Green")]
    assert [p.name for p in source.list()] == ["Green"]


def test_constructor_kwargs_become_attributes():
    class Custom(Datasource):
        def get(self, id):
            return self.table[id]

        def list(self, **filter):
            return self.table.values()

    source = Custom(resource_type=dict, table={1: {"id": 1}}, api_key="k")
    assert source.api_key == "k"
    assert source.get(1) == {"id": 1}
    assert source.get_id(source.get(1)) == 1
    assert str(source) == "Custom(dict)"


def test_datasource_is_abstract():
    with pytest.raises(TypeError):
        Datasource()
