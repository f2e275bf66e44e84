"""Route table of the extension (every path under ``/api/datadive``)."""

from __future__ import annotations


def routes() -> list:
    from . import cells, openapi, projects, templates
    from .base import PREFIX

    return [*projects.routes(PREFIX), *cells.routes(PREFIX), *templates.routes(PREFIX), *openapi.routes(PREFIX)]
