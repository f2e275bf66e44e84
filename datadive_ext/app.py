"""The Datadive extension application."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp


class DatadiveApp(ExtensionApp):
    """Datadive: cell templates, projects and the statistical-test assistant."""

    name = "datadive_ext"
    description = __doc__
    load_other_extensions = True
