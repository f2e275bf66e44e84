"""The kernel layer: ``%load_ext cell_templates`` gives the ``%datadive`` line magic.

Frontend-agnostic and independent of the server extension: it works in any
IPython kernel (JupyterLab, Notebook, VS Code, a terminal IPython).

``%datadive templates [--category C] [--q TEXT]``
    Lists the built-in templates (id, title, category). The value is a
    :class:`TemplateTable` (a list of row dicts) that shows as an HTML table in a
    notebook and as aligned text in a terminal.

``%datadive insert TEMPLATE key=value ... [--file PATH] [--print]``
    Validates the inputs, renders the template and puts the generated code in a
    new cell below the running one (``set_next_input(code, replace=False)``).
    ``--print`` prints the code instead; ``--help`` after the template id lists
    its inputs. Only the *built-in* templates are known (the kernel talks to no
    server, so there are no stored user templates and no ``--version``); a
    template document on disk can be used with ``--file PATH`` (it is loaded as
    an untrusted document, exactly like the server does for user templates).

    Values (see :func:`cell_templates.values.parse_value`; nothing is ever evaluated):

    - JSON first: ``top=5``, ``alpha=0.01``, ``dropna=true``, ``x=null``,
      ``cols=["a","b"]``, ``title="two words"``, ``conds=[{"column":"a","op":"=="}]``;
    - then a Python *literal* (``ast.literal_eval``, literals only):
      ``title='two words'``, ``cols=['a', 'b']``, ``flag=True``, ``x=None``;
    - anything else is the text as typed: ``column=species``, ``path=data/x.csv``;
    - an input whose schema type is exactly ``string`` keeps an unquoted value as
      text: ``column=2019`` is the column ``"2019"``, ``title=true`` is ``"true"``;
    - a value with spaces needs quotes or brackets; a value that starts with a
      quote or a bracket must be a complete literal, else it is refused.

    Code cells are joined with a blank line. **Markdown cells become comment
    lines** at their place (``# ...``, one per line; heading marks, ``**`` and
    Markdown backslash escapes removed), so the explanation the template gives (what the
    test does, its assumptions) travels with the code. A template made only of
    Markdown cells is inserted as a ``%%markdown`` cell, which shows the text
    when run.

``%datadive suggest DF --outcome Y [--group G] [--between B ...] [--within W ...]
[--subject S] [--covariates C ...] [--predictors P ...] [--weights W] [--strata S]
[--test-value X] [--expected JSON] [--level COL=LEVEL ...]
[--goal difference|association|prediction] [--insert [N]]``
    ``DF`` must be a plain variable name (an identifier) bound to a pandas
    DataFrame in the user namespace; it is looked up in the namespace dict, never
    evaluated, and anything else is refused. Runs
    :func:`cell_templates.assistant.suggest` and **returns** a
    :class:`SuggestionReport`: the result dict itself (``profile``,
    ``suggestions``, ``design``) which shows, as the last line of a cell, as a
    readable HTML summary (profile of the design's columns with level and reason,
    the ranked suggestions with rationale, assumption checks, warnings, effect
    size and the ``%datadive insert`` command of each), or as plain text in a
    terminal. ``r = %datadive suggest ...`` keeps the dict for code (and shows
    nothing, as any assignment); ``display(r)`` shows it. ``--insert`` puts the
    top suggestion's code (``--insert 2``: the second one) in the next cell, with
    the template's ``df`` input set to ``DF``. ``--group`` is a synonym of
    ``--between`` (repeatable).

The magic opts out of IPython's variable expansion (``@no_var_expand``): a
``{expression}`` or ``$name`` in a value is text, never evaluated, so a
``%datadive insert`` line copied from a report or a form cannot run code hidden
in a column name.

Every problem is reported as a ``UsageError`` (IPython prints its message, no
traceback): unknown templates (with close matches), each invalid input as
``/path: message``, bad names, designs the assistant cannot analyse.

``set_next_input`` inserts a cell only when the magic runs in a cell the user
executed (see PITFALLS: not from a widget callback); ``cell_templates.form``
therefore shows the code and the matching ``%datadive insert`` command instead.

The layer is split by job: :mod:`cell_templates.values` (the value grammar),
:mod:`cell_templates.reports` (the HTML and text results) and
:mod:`cell_templates.magics` (the magic itself); this module gathers their
public names, so ``from cell_templates.kernel import parse_value`` keeps working.
"""

from __future__ import annotations

from .cells import cells_to_code
from .magics import DatadiveMagics, load_ipython_extension, split_line
from .reports import SuggestionReport, TemplateTable
from .values import format_value, insert_command, parse_value

__all__ = [
    "DatadiveMagics",
    "load_ipython_extension",
    "parse_value",
    "format_value",
    "insert_command",
    "split_line",
    "cells_to_code",
    "SuggestionReport",
    "TemplateTable",
]
