"""datadive_ext: the Datadive Jupyter server extension."""

from .app import DatadiveApp

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    return [{"module": "datadive_ext", "app": DatadiveApp}]
