"""datadive_ext: the Datadive Jupyter server extension (and, in datadive_ext.client, its API client)."""

__version__ = "0.1.0"


def __getattr__(name):
    # DatadiveApp (and with it jupyter_server) is imported on first use, so that
    # datadive_ext.client runs where no server is installed.
    if name == "DatadiveApp":
        from .app import DatadiveApp

        return DatadiveApp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_server_extension_points():
    from .app import DatadiveApp

    return [{"module": "datadive_ext", "app": DatadiveApp}]
