"""The public facade: every advertised name resolves, and importing it defines no models."""

import subprocess
import sys

import pytest

import pyck.core.datasources as datasources


def test_every_name_in_all_resolves():
    missing = [name for name in datasources.__all__ if getattr(datasources, name, None) is None]
    assert missing == []
    assert sorted(datasources.__all__) == sorted(set(datasources.__all__))


def test_importing_the_facade_before_django_setup_defines_no_models():
    # The guide's datasource modules and settings files import it before the app registry is ready.
    code = (
        "import pyck.core.datasources as d, pyck.geo.territories.uk.parliament, pyck.geo.territories.uk.postcodes;"
        "import sys; assert 'pyck.core.models' not in sys.modules, 'models imported early';"
        "print(d.RestDatasource.__name__, d.SyncConfig.__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RestDatasource", "SyncConfig"]


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="ExternalResource"):
        datasources.ExternalResource  # noqa: B018
