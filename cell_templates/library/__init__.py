"""The built-in template library: one JSON document per file in this folder."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

from ..errors import TemplateError
from ..template import Template


@lru_cache(maxsize=1)
def builtin_templates() -> MappingProxyType:
    """The shipped templates as a read-only mapping ``{id: Template}``, sorted by id.

    The documents are loaded as already checked (the test suite validates each
    one and renders its examples), so their sources compile on first use. A
    broken built-in document is a packaging bug: the ``TemplateError`` names the file.
    """
    found = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        doc = json.loads(entry.read_text(encoding="utf-8"))
        try:
            template = Template.from_dict(doc, checked=True)
        except TemplateError as exc:
            raise TemplateError(f"built-in template {entry.name}: {exc.message}", exc.errors) from None
        if template.id in found:
            raise TemplateError(f"built-in template id {template.id!r} appears twice")
        if entry.name != f"{template.id}.json":
            raise TemplateError(f"built-in template {entry.name} must be named {template.id}.json")
        found[template.id] = template
    return MappingProxyType(found)
