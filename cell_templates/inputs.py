"""A template's inputs as a person reads them: in ``ui:order``, one line each.

Shared by the ``%datadive insert --help`` listing and the ipywidgets form, so
both show the inputs in the same order.
"""

from __future__ import annotations

from .values import format_value


def input_order(properties, ui) -> list:
    """The input names of ``properties`` in ``ui:order``.

    Names the order does not list come at its ``"*"``, or after the listed ones
    when there is no ``"*"``; names it lists that are not inputs are left out.
    """
    names = list(properties)
    order = list((ui or {}).get("ui:order") or ())
    if not order:
        return names
    rest = [n for n in names if n not in order]
    out = []
    for n in order:
        if n == "*":
            out += rest
            rest = []
        elif n in properties and n not in out:
            out.append(n)
    return out + rest


def describe_input(name, schema, required) -> str:
    """One line: ``name: type; one of ...; required; default ... -- title``."""
    t = schema.get("type")
    if t is None and isinstance(schema.get("anyOf"), list):
        t = " | ".join(str(b.get("type", "?")) for b in schema["anyOf"] if isinstance(b, dict))
    bits = [str(t or "any")]
    if "enum" in schema:
        bits.append("one of " + ", ".join(format_value(v) for v in schema["enum"]))
    if required:
        bits.append("required")
    if "default" in schema:
        bits.append("default " + format_value(schema["default"]))
    title = schema.get("title")
    return f"  {name}: {'; '.join(bits)}" + (f" -- {title}" if title else "")


def inputs_help(template) -> str:
    """The inputs of ``template``, a line each (what ``%datadive insert ID --help`` prints)."""
    schema = template.inputs
    props = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    lines = [f"inputs of {template.id} ({template.title}):"]
    lines += [describe_input(n, props[n], n in required) for n in input_order(props, template.ui)]
    return "\n".join(lines)


__all__ = ["input_order", "describe_input", "inputs_help"]
