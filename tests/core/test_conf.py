import pytest
from django.core import checks
from django.test import override_settings

from pyck.core.conf import DEFAULTS, pyck_settings


def test_defaults_apply_without_a_pyck_setting():
    assert pyck_settings.HTTP_TIMEOUT == DEFAULTS["HTTP_TIMEOUT"]
    assert pyck_settings.UK_PARLIAMENT_BASE_URL == "https://members-api.parliament.uk/api"


def test_override_and_revert():
    before = pyck_settings.HTTP_RETRIES
    with override_settings(PYCK={"HTTP_RETRIES": 7}):
        assert pyck_settings.HTTP_RETRIES == 7
        assert pyck_settings.HTTP_TIMEOUT == DEFAULTS["HTTP_TIMEOUT"]
    assert pyck_settings.HTTP_RETRIES == before


def test_unknown_attribute_names_the_known_ones():
    with pytest.raises(AttributeError, match="HTTP_TIMEOUT"):
        pyck_settings.HTTP_TIMOUT  # noqa: B018


def test_unknown_key_in_setting_is_a_system_check_warning():
    with override_settings(PYCK={"HTTP_TIMOUT": 3}):
        messages = [m for m in checks.run_checks() if m.id == "pyck.W001"]
    assert len(messages) == 1
    assert "HTTP_TIMOUT" in messages[0].msg


def test_setting_that_is_not_a_dict_is_an_error():
    with override_settings(PYCK=["HTTP_TIMEOUT"]):
        assert [m.id for m in checks.run_checks() if m.id.startswith("pyck.E001")] == ["pyck.E001"]
