"""Route table of the extension (every path under ``/api/datadive``)."""

from __future__ import annotations


def routes() -> list:
    from . import assistant, cells, openapi, projects, templates
    from .base import PREFIX

    return [
        *projects.routes(PREFIX), *cells.routes(PREFIX), *templates.routes(PREFIX),
        *assistant.routes(PREFIX), *openapi.routes(PREFIX),
    ]
