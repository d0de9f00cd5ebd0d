"""For every test: the default data directory (``DORLAB_DATA``) is a temporary one of its own, so commands run without
``--data-dir`` (and the runs they register) never write into the checkout's ./dorlab-data. Tests that
check the default itself unset or set it with monkeypatch."""
import pytest


@pytest.fixture(autouse=True)
def _private_default_data_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DORLAB_DATA", str(tmp_path_factory.mktemp("default-data", numbered=True)))
