"""Locate and load the JSON Schemas shipped in ``schemas/``.

A wheel carries them inside the package (``cell_templates/schemas``); a source
checkout or an editable install finds them in the repository's top-level
``schemas/`` folder. Both are tried, in that order.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def schema_dir() -> Path:
    for candidate in (_HERE / "schemas", _HERE.parent / "schemas"):
        if (candidate / "template.schema.json").is_file():
            return candidate
    raise FileNotFoundError("the datadive JSON Schemas were not found next to cell_templates")


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """The schema ``schemas/<name>.schema.json`` (or ``<name>`` if it has a suffix)."""
    filename = name if name.endswith(".json") else f"{name}.schema.json"
    with open(schema_dir() / filename, encoding="utf-8") as f:
        return json.load(f)
