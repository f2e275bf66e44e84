"""Error classes of the cell-template layer.

Every error carries a machine-readable ``code`` and a list ``errors`` of
``{"path": <JSON pointer>, "message": <text>}`` so that a server or a kernel
front end can show each problem next to the field it concerns.
"""

from __future__ import annotations


class DatadiveError(Exception):
    """Base class: ``code`` names the kind of problem, ``errors`` lists them all."""

    code = "error"

    def __init__(self, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = list(errors or [])

    def to_dict(self) -> dict:
        return {"message": self.message, "code": self.code, "errors": self.errors}


class TemplateError(DatadiveError):
    """A template document is invalid or its sources cannot be rendered safely."""

    code = "invalid_template"


class InputError(DatadiveError):
    """Inputs do not satisfy the template's input schema."""

    code = "invalid_inputs"


class CellError(DatadiveError):
    """A cell cannot be handled as asked (not generated, or from another template)."""

    code = "invalid_cell"


class CellEditedError(CellError):
    """The cell's source was edited by hand; re-generating would lose the edit."""

    code = "cell_edited"


def pointer(parts) -> str:
    """JSON pointer (RFC 6901) for a sequence of keys / indexes; ``""`` is the root."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
