"""The OpenAPI description (``schemas/openapi.json``): request-body validators and the served spec.

Request bodies are described once, in the OpenAPI components; the handlers
validate against them by name. The template document schema is referenced by
its ``$id`` and inlined when the description is served.
"""

from __future__ import annotations

import copy
from functools import lru_cache

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cell_templates.schemas import load_schema

OPENAPI_ID = "urn:datadive:openapi"
TEMPLATE_ID = "urn:datadive:schema:template"


@lru_cache(maxsize=1)
def spec() -> dict:
    return load_schema("openapi.json")


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resources([
        (OPENAPI_ID, Resource.from_contents(spec(), default_specification=DRAFT202012)),
        (TEMPLATE_ID, Resource.from_contents(load_schema("template"), default_specification=DRAFT202012)),
    ])


@lru_cache(maxsize=None)
def body_validator(name: str) -> Draft202012Validator:
    if name not in spec()["components"]["schemas"]:
        raise KeyError(f"no schema {name!r} in the OpenAPI components")
    return Draft202012Validator({"$ref": f"{OPENAPI_ID}#/components/schemas/{name}"}, registry=_registry())


def served_spec(server_url: str) -> dict:
    """The description as served: the template schema inlined, the server URL filled in."""
    doc = copy.deepcopy(spec())
    template = copy.deepcopy(load_schema("template"))
    template.pop("$schema", None)
    template.pop("$id", None)
    # The template schema's internal refs point at its own $defs: re-home them.
    defs = template.pop("$defs", {})
    for name, sub in defs.items():
        doc["components"]["schemas"][f"Template_{name}"] = sub
    _rewrite_refs(template, "#/$defs/", "#/components/schemas/Template_")
    for sub in defs.values():
        _rewrite_refs(sub, "#/$defs/", "#/components/schemas/Template_")
    doc["components"]["schemas"]["TemplateDocument"] = template
    _rewrite_refs(doc, TEMPLATE_ID, "#/components/schemas/TemplateDocument")
    doc["servers"] = [{"url": server_url}]
    return doc


def _rewrite_refs(node, old: str, new: str) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(old):
            node["$ref"] = new + ref[len(old):]
        for value in node.values():
            _rewrite_refs(value, old, new)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, old, new)
