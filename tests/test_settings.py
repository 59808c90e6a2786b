"""Settings come from one place; a bad value names its variable."""

import pytest

from training.settings import SettingsError, load_settings


def test_defaults_use_embedded_store_under_models():
    s = load_settings({})
    assert s.tracking_uri.startswith("sqlite:///") and s.tracking_uri.endswith("models/mlflow.db")
    assert s.address == "127.0.0.1:50051"


def test_environment_and_overrides():
    s = load_settings({"STANCE_MAX_TEXT_CHARS": "500", "MLFLOW_TRACKING_URI": "sqlite:///x.db"}, address="0.0.0.0:1")
    assert s.max_text_chars == 500 and s.tracking_uri == "sqlite:///x.db" and s.address == "0.0.0.0:1"


@pytest.mark.parametrize("env, var", [
    ({"STANCE_MAX_TEXT_CHARS": "lots"}, "STANCE_MAX_TEXT_CHARS"),
    ({"STANCE_MAX_WORKERS": "-1"}, "STANCE_MAX_WORKERS"),
    ({"STANCE_ADDRESS": "nohostport"}, "STANCE_ADDRESS"),
])
def test_bad_values_name_the_variable(env, var):
    with pytest.raises(SettingsError, match=var):
        load_settings(env)
