"""Python client of the Datadive REST API (``<base_url>api/datadive/``), and the ``datadive`` command line.

>>> from datadive_ext.client import DatadiveClient, NotFound
>>> with DatadiveClient("http://localhost:8888/", token="...") as dd:
...     project = dd.create_project("Pilot")
...     dd.create_notebook(project["id"], "analysis")
...     cells, etag = dd.insert_cells(project["id"], "analysis.ipynb", template="load-csv", inputs={"path": "data.csv"})

Needs httpx only (the ``client`` extra adds typer and rich for the command line); it
imports no Jupyter Server or tornado code. See docs/client.md.
"""

from .core import (
    OPERATIONS, AsyncDatadiveClient, DatadiveClient, Tagged, api_root, default_token, file_source, kernel_source,
    table_source,
)
from .errors import (
    BadRequest, CellEdited, Conflict, DatadiveError, Forbidden, KernelTimeout, NotAvailable, NotFound,
    PreconditionFailed, ServerError, ServerUnreachable, StorageFull, TooLarge, Unavailable,
)

__all__ = [
    "OPERATIONS", "AsyncDatadiveClient", "BadRequest", "CellEdited", "Conflict", "DatadiveClient", "DatadiveError",
    "Forbidden", "KernelTimeout", "NotAvailable", "NotFound", "PreconditionFailed", "ServerError", "ServerUnreachable",
    "StorageFull", "Tagged", "TooLarge", "Unavailable", "api_root", "default_token", "file_source", "kernel_source",
    "table_source",
]
