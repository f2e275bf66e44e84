"""cell_templates: schema-driven notebook cell templates, rendered safely.

A pure library (no tornado, jupyter_server or datadive_ext import) usable in a
kernel, a script or the Datadive server extension.
"""

from .cells import cell_state, decode_inputs, encode_inputs, parameters_cell, provenance, rerender, source_hash
from .errors import CellEditedError, CellError, DatadiveError, InputError, TemplateError
from .library import builtin_templates
from .template import Template

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """``%load_ext cell_templates``: the ``%datadive`` magics (see ``cell_templates.kernel``)."""
    from .kernel import load_ipython_extension as load

    load(ipython)


def form(template, **kwargs):
    """An ipywidgets form built from a template's input schema (see ``cell_templates.form``)."""
    from .forms import form as build

    return build(template, **kwargs)

__all__ = [
    "Template",
    "TemplateError",
    "InputError",
    "CellError",
    "CellEditedError",
    "DatadiveError",
    "cell_state",
    "rerender",
    "parameters_cell",
    "builtin_templates",
    "provenance",
    "source_hash",
    "encode_inputs",
    "decode_inputs",
    "load_ipython_extension",
    "form",
]
