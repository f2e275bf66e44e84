"""nbformat 4.5 cells with provenance, their state, re-generation and parameter cells.

Also :func:`cells_to_code`: rendered cells as the text of one code cell (what the
kernel's ``%datadive insert`` and the ipywidgets form produce).
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import uuid

from .errors import CellEditedError, CellError, InputError, pointer
from .literals import identifier_problem, to_literal
from .validation import copy_json

META_KEY = "datadive"
_FLOAT_KEY = "$float"
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_MD_HEADING = re.compile(r"^#{1,6}\s+")


def source_text(source) -> str:
    """A cell source as one string (nbformat allows a list of lines)."""
    return "".join(source) if isinstance(source, list) else (source or "")


def source_hash(source) -> str:
    return "sha256:" + hashlib.sha256(source_text(source).encode("utf-8")).hexdigest()


def encode_inputs(value):
    """Inputs as strict JSON: non-finite floats become ``{"$float": "nan" | "inf" | "-inf"}``.

    Notebook files are read by JavaScript, whose JSON has no NaN or Infinity.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return {_FLOAT_KEY: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, dict):
        return {k: encode_inputs(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_inputs(v) for v in value]
    return value


def decode_inputs(value):
    """Inverse of :func:`encode_inputs`."""
    if isinstance(value, dict):
        if len(value) == 1 and value.get(_FLOAT_KEY) in ("nan", "inf", "-inf"):
            return float(value[_FLOAT_KEY])
        return {k: decode_inputs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_inputs(v) for v in value]
    return value


def build_cell(template, part: int, cell_type: str, source: str, stored_inputs, cell_id: str, base: dict | None = None,
               owned: bool = False) -> dict:
    """A generated cell for ``template``'s cell ``part``.

    ``base`` is an existing cell whose id and non-datadive metadata are kept;
    ``owned`` says ``stored_inputs`` is a fresh object the cell may keep as is.
    """
    metadata = copy.deepcopy(base.get("metadata", {})) if base else {}
    if base and _was_locked(base):  # the flags were ours; the new version decides again
        metadata.pop("editable", None)
        metadata.pop("deletable", None)
    metadata.update(template.cell_metadata(part))
    metadata[META_KEY] = {
        "template": template.id,
        "version": template.version,
        "part": part,
        "inputs": stored_inputs if owned else copy_json(stored_inputs),
        "source_hash": source_hash(source),
    }
    if template.locked:
        metadata[META_KEY]["locked"] = True
        metadata["editable"] = False
        metadata["deletable"] = False
    cell = {"id": cell_id, "cell_type": cell_type, "metadata": metadata, "source": source}
    if cell_type == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def _was_locked(cell) -> bool:
    return bool(((cell.get("metadata") or {}).get(META_KEY) or {}).get("locked"))


def provenance(cell) -> dict | None:
    """The ``metadata.datadive`` block of a generated cell, or None for a plain cell."""
    meta = (cell.get("metadata") or {}).get(META_KEY)
    if isinstance(meta, dict) and isinstance(meta.get("template"), str) and "source_hash" in meta:
        return meta
    return None


def cell_state(cell, template=None) -> str:
    """``"plain"``, ``"generated"``, ``"edited"`` or ``"outdated"``.

    ``edited``: the source no longer matches the hash recorded when it was
    generated (this wins over ``outdated``, since re-generating would lose the
    edit). ``outdated``: ``template`` is the same template at a newer version.
    A ``template`` with another id is ignored.
    """
    meta = provenance(cell)
    if meta is None:
        return "plain"
    if source_hash(cell.get("source", "")) != meta["source_hash"]:
        return "edited"
    if template is not None and template.id == meta["template"]:
        version = meta.get("version")
        if isinstance(version, int) and template.version > version:
            return "outdated"
    return "generated"


def rerender(cell, template, inputs=None, force: bool = False) -> dict:
    """Re-generate ``cell`` from ``template`` (possibly a newer version) with ``inputs``.

    ``inputs=None`` re-uses the inputs recorded in the cell (an upgrade). The
    cell id and its other metadata are kept; outputs are cleared. An edited
    cell raises ``CellEditedError`` unless ``force``.
    """
    meta = provenance(cell)
    if meta is None:
        raise CellError("this cell was not generated from a template", [{"path": pointer(("metadata", META_KEY)), "message": "is missing"}])
    if meta["template"] != template.id:
        raise CellError(
            f"this cell was generated from {meta['template']!r}, not {template.id!r}",
            [{"path": pointer(("metadata", META_KEY, "template")), "message": f"is {meta['template']!r}"}],
        )
    part = meta.get("part", 0)
    if not isinstance(part, int) or not 0 <= part < len(template.cells):
        raise CellError(
            f"template {template.id} v{template.version} has no cell {part}",
            [{"path": pointer(("metadata", META_KEY, "part")), "message": f"no such cell in version {template.version}"}],
        )
    if not force and cell_state(cell) == "edited":
        raise CellEditedError(
            "the cell was edited by hand since it was generated; re-generate with force to discard the edit",
            [{"path": "/source", "message": "differs from the generated source"}],
        )
    if inputs is None:
        inputs = decode_inputs(meta.get("inputs") or {})
    values, cell_type, source = template.render_part(part, inputs)
    new = build_cell(template, part, cell_type, source, encode_inputs(values), cell_id=cell.get("id") or str(uuid.uuid4()), base=cell)
    if "attachments" in cell and cell_type == "markdown":
        new["attachments"] = copy.deepcopy(cell["attachments"])
    return new


def parameters_cell(params: dict) -> dict:
    """A papermill-style parameters cell: tagged ``parameters``, one ``name = literal`` line each."""
    if not isinstance(params, dict):
        raise InputError("parameters must be an object", [{"path": "", "message": "must be of type object"}])
    errors, lines = [], ["# Parameters"]
    for name, value in params.items():
        problem = identifier_problem(name)
        if problem:
            errors.append({"path": pointer((name,)), "message": f"is not a usable parameter name: {problem}"})
            continue
        try:
            lines.append(f"{name} = {to_literal(value, style='papermill')}")
        except (TypeError, ValueError) as exc:
            errors.append({"path": pointer((name,)), "message": str(exc)})
    if errors:
        raise InputError("invalid parameters", errors)
    return {
        "id": str(uuid.uuid4()),
        "cell_type": "code",
        "metadata": {"tags": ["parameters"]},
        "execution_count": None,
        "outputs": [],
        "source": "\n".join(lines),
    }


def _comment(markdown: str) -> str:
    lines = []
    for line in markdown.splitlines():  # every kind of line break: no comment line can end early
        line = _MD_ESCAPE.sub(r"\1", _MD_HEADING.sub("", line).replace("**", "")).rstrip()
        lines.append("# " + line if line else "#")
    while lines and lines[-1] == "#":
        lines.pop()
    return "\n".join(lines)


def cells_to_code(cells) -> str:
    """The text of one code cell holding rendered ``cells``.

    Code cells joined by a blank line, Markdown cells as comment lines (heading
    marks, ``**`` and Markdown backslash escapes removed); a list of Markdown
    cells only becomes a ``%%markdown`` cell.
    """
    if not any(c["cell_type"] == "code" for c in cells):
        return "%%markdown\n" + "\n\n".join(source_text(c["source"]).strip("\n") for c in cells)
    parts = []
    for cell in cells:
        text = source_text(cell["source"]).strip("\n") if cell["cell_type"] == "code" else _comment(source_text(cell["source"]))
        if text.strip():
            parts.append(text)
    return "\n\n".join(parts) + "\n"
