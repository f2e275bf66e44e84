"""Route table of the extension (every path under ``/api/datadive``)."""

from __future__ import annotations


def routes() -> list:
    from . import assistant, cells, openapi, pages, projects, runs, templates
    from .base import PREFIX, NoRouteHandler

    return [
        *projects.routes(PREFIX), *cells.routes(PREFIX), *templates.routes(PREFIX),
        *assistant.routes(PREFIX), *runs.routes(PREFIX), *openapi.routes(PREFIX),
        # HTML pages for other platforms (SampleDB), outside the API prefix.
        *pages.routes(),
        # Last: any other path under the prefix gets the JSON error body, not the HTML page.
        (rf"{PREFIX}/.*", NoRouteHandler),
    ]
