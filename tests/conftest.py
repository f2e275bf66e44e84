import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config(jp_server_config):
    """Enable the extension: pytest-jupyter isolates config dirs, so the installed config file is not seen."""
    return {"ServerApp": {"jpserver_extensions": {"datadive_ext": True}}}
