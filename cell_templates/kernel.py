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

    Values (see :func:`parse_value`; nothing is ever evaluated):

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
"""

from __future__ import annotations

import argparse
import ast
import difflib
import html
import json
import keyword
import math
import re
import shlex
from collections.abc import Mapping

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand

from .errors import DatadiveError, InputError, TemplateError
from .library import builtin_templates
from .template import Template

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
MAX_VALUE_CHARS = 100_000



# ---------------------------------------------------------------------------
# values: parse and format (shared with cell_templates.forms)
# ---------------------------------------------------------------------------


def _jsonable(value, depth=0):
    """``value`` (from ``ast.literal_eval``) as JSON types; tuples become lists.

    Raises ValueError for sets, bytes, complex numbers and non-string keys.
    """
    if depth > 32:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError("object keys must be strings")
            out[k] = _jsonable(v, depth + 1)
        return out
    raise ValueError(f"a {type(value).__name__} is not a JSON value")


def parse_value(text: str):
    """The value of a ``key=value`` token, without ever evaluating code.

    JSON first; then a Python literal (``ast.literal_eval``: strings in single
    quotes, ``True`` / ``False`` / ``None``, lists, tuples -> lists, dicts); else
    the text itself. Text starting with a quote or a bracket must parse, else
    ``ValueError``. The empty text is the empty string.
    """
    if not isinstance(text, str):
        raise TypeError("text must be a str")
    if text == "":
        return ""
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"value longer than {MAX_VALUE_CHARS} characters")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if text[0] in "\"'[{(":
            raise ValueError(f"{text[:60]!r} is not a complete JSON or Python literal (quote text that has spaces or quotes)") from None
        return text
    return _jsonable(value)


def format_value(value) -> str:
    """``value`` written so that :func:`parse_value` reads it back unchanged."""
    if isinstance(value, str) and _BARE.fullmatch(value):
        try:
            if parse_value(value) == value:
                return value
        except ValueError:
            pass
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    if not text.isprintable():
        text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    return text


def insert_command(template_id: str, inputs: dict) -> str:
    """The ``%datadive insert`` line that renders ``template_id`` with ``inputs``."""
    parts = ["%datadive", "insert", template_id]
    parts += [f"{k}={format_value(v)}" for k, v in inputs.items()]
    return " ".join(parts)


def split_line(line: str) -> list[str]:
    """Split at whitespace outside quotes and brackets; quotes are kept (values are parsed later)."""
    tokens, buf = [], []
    quote = None
    depth = 0
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < n:
                buf.append(line[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            buf.append(ch)
        elif ch in "[{(":
            depth += 1
            buf.append(ch)
        elif ch in "]})":
            depth -= 1
            if depth < 0:
                raise UsageError(f"unbalanced {ch!r} in: {line.strip()}")
            buf.append(ch)
        elif ch.isspace() and depth == 0:
            if buf:
                tokens.append("".join(buf))
                buf = []
        else:
            buf.append(ch)
        i += 1
    if quote:
        raise UsageError(f"a quote ({quote}) is not closed in: {line.strip()}\n"
                         "Put values that hold quotes or spaces in double quotes, e.g. title=\"Tom's data\".")
    if depth:
        raise UsageError(f"a bracket is not closed in: {line.strip()}")
    if buf:
        tokens.append("".join(buf))
    return tokens


def _schema_type(schema) -> str | None:
    t = schema.get("type") if isinstance(schema, Mapping) else None
    return t if isinstance(t, str) else None


def parse_assignments(tokens, properties) -> tuple[dict, list[dict]]:
    """``key=value`` tokens -> (inputs, errors as ``{path, message}``)."""
    values, errors = {}, []
    for token in tokens:
        key, sep, raw = token.partition("=")
        if not sep:
            raise UsageError(f"expected key=value, got {token!r}")
        if not _KEY.fullmatch(key):
            errors.append({"path": "/" + key, "message": "is not a valid input name"})
            continue
        if key in values:
            errors.append({"path": "/" + key, "message": "is given twice"})
            continue
        try:
            value = parse_value(raw)
        except ValueError as exc:
            errors.append({"path": "/" + key, "message": str(exc)})
            continue
        schema = properties.get(key)
        if (_schema_type(schema) == "string" and not isinstance(value, str)
                and raw and raw[0] not in "\"'[{(" and not isinstance(value, (list, dict))):
            value = raw  # column=2019, title=true: an unquoted value of a text input is its text
        if schema is None:
            errors.append({"path": "/" + key, "message": "is not an input of this template"})
            continue
        values[key] = value
    return values, errors


# ---------------------------------------------------------------------------
# rendering helpers
# ---------------------------------------------------------------------------


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


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

    Code cells joined by a blank line, Markdown cells as comment lines; a list
    of Markdown cells only becomes a ``%%markdown`` cell.
    """
    if not any(c["cell_type"] == "code" for c in cells):
        return "%%markdown\n" + "\n\n".join(_source(c).strip("\n") for c in cells)
    parts = []
    for cell in cells:
        text = _source(cell).strip("\n") if cell["cell_type"] == "code" else _comment(_source(cell))
        if text.strip():
            parts.append(text)
    return "\n\n".join(parts) + "\n"


def _error_lines(errors) -> str:
    return "\n".join(f"  {e.get('path') or '/'}: {e.get('message')}" for e in errors)


def _describe_input(name, schema, required) -> str:
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


def inputs_help(template: Template) -> str:
    schema = template.inputs
    props = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    order = list((template.ui or {}).get("ui:order") or ())
    names = [n for n in order if n in props] + [n for n in props if n not in order]
    lines = [f"inputs of {template.id} ({template.title}):"]
    lines += [_describe_input(n, props[n], n in required) for n in names]
    return "\n".join(lines)


def _unknown_template(template_id: str) -> UsageError:
    ids = list(builtin_templates())
    close = difflib.get_close_matches(template_id, ids, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return UsageError(f"no built-in template {template_id!r}.{hint} `%datadive templates` lists them.")


def render_code(template: Template, inputs: dict) -> tuple[list[dict], str]:
    """Render ``template`` with ``inputs``; errors become a readable ``UsageError``."""
    try:
        cells = template.render(inputs)
    except InputError as exc:
        raise UsageError(f"template {template.id}: {exc.message}\n{_error_lines(exc.errors)}\n{inputs_help(template)}") from None
    except TemplateError as exc:
        raise UsageError(f"template {template.id} could not be rendered: {exc.message}\n{_error_lines(exc.errors)}") from None
    return cells, cells_to_code(cells)


# ---------------------------------------------------------------------------
# results with a rich and a plain representation
# ---------------------------------------------------------------------------


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


class TemplateTable(list):
    """Rows ``{"id", "title", "category", "description"}``: an HTML table in a notebook, text elsewhere."""

    def __init__(self, rows, note=""):
        super().__init__(rows)
        self.note = note

    def _repr_html_(self):
        if not self:
            return f"<p>{_e(self.note or 'No templates match.')}</p>"
        body = "".join(
            f"<tr><td><code>{_e(r['id'])}</code></td><td title=\"{_e(r['description'])}\">{_e(r['title'])}</td>"
            f"<td>{_e(r['category'])}</td></tr>"
            for r in self
        )
        return (f"<table class=\"datadive-templates\"><thead><tr><th>id</th><th>title</th><th>category</th></tr></thead>"
                f"<tbody>{body}</tbody></table>"
                f"<p>{len(self)} template{'s' if len(self) != 1 else ''}. Insert one with "
                f"<code>%datadive insert ID key=value ...</code>; "
                f"<code>%datadive insert ID --help</code> lists its inputs.</p>")

    def __repr__(self):
        if not self:
            return self.note or "No templates match."
        w_id = max(len(r["id"]) for r in self)
        w_title = max(len(r["title"]) for r in self)
        lines = [f"{'id'.ljust(w_id)}  {'title'.ljust(w_title)}  category"]
        lines += [f"{r['id'].ljust(w_id)}  {r['title'].ljust(w_title)}  {r['category']}" for r in self]
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))


def _fmt_num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, float) and value != 0 and abs(value) < 0.001:
            return f"{value:.2e}"
        return f"{value:.4g}"
    return str(value)


def _fmt_p(p) -> str:
    if not isinstance(p, (int, float)) or isinstance(p, bool):
        return ""
    return "< .001" if p < 0.001 else f"{p:.3f}"


def _passed(flag) -> str:
    return {True: "yes", False: "no"}.get(flag, "n/a")


def _fmt_posthoc(posthoc) -> str:
    if posthoc in (None, "", [], {}):
        return ""
    if isinstance(posthoc, str):
        return posthoc
    if isinstance(posthoc, dict):
        name = posthoc.get("name") or posthoc.get("test") or posthoc.get("title")
        detail = posthoc.get("detail") or posthoc.get("rationale") or posthoc.get("why")
        if name:
            return f"{name}" + (f": {detail}" if detail else "")
    return json.dumps(posthoc, default=str)


def _fmt_effect(effect) -> str:
    if not effect:
        return ""
    if isinstance(effect, dict):
        return f"{effect.get('name', 'effect size')} = {_fmt_num(effect.get('value'))}"
    return str(effect)


class SuggestionReport(dict):
    """The result of ``cell_templates.assistant.suggest`` (unchanged keys), with a readable summary.

    Extra attributes: ``frame`` (the variable name), ``commands`` (the
    ``%datadive insert`` line of each suggestion, None where no built-in
    template exists yet) and ``inserted`` (the suggestion number inserted, or None).
    """

    def __init__(self, result, frame, commands, inserted=None):
        super().__init__(result)
        self.frame = frame
        self.commands = commands
        self.inserted = inserted

    # -- pieces ------------------------------------------------------------------

    def _columns(self):
        profile = self.get("profile") or {}
        cols = profile.get("columns", profile) if isinstance(profile, dict) else {}
        return cols if isinstance(cols, dict) else {}

    def _html(self):
        out = [f"<div class=\"datadive-suggest\"><h3>Datadive assistant: <code>{_e(self.frame)}</code></h3>"]
        design = self.get("design") or {}
        summary = []
        for key in ("outcome", "layout", "between", "within", "covariates", "subject", "weights", "strata", "goal"):
            v = design.get(key)
            if v not in (None, [], ""):
                summary.append(f"<b>{_e(key)}</b>: {_e(', '.join(map(str, v)) if isinstance(v, list) else v)}")
        if design.get("n_rows") is not None:
            summary.append(f"<b>rows</b>: {_e(design.get('n_used', design['n_rows']))} used of {_e(design['n_rows'])}")
        if summary:
            out.append("<p>" + " &middot; ".join(summary) + "</p>")
        for text in design.get("assumed") or ():
            out.append(f"<p><i>Assumed: {_e(text)}</i></p>")

        cols = self._columns()
        if cols:
            out.append("<h4>Columns</h4><table><thead><tr><th>column</th><th>level</th><th>why</th><th>n</th>"
                       "<th>missing</th><th>distinct</th></tr></thead><tbody>")
            for name, c in cols.items():
                if not isinstance(c, dict):
                    continue
                out.append(f"<tr><td><code>{_e(c.get('name', name))}</code></td><td>{_e(c.get('level'))}</td>"
                           f"<td>{_e(c.get('reason'))}</td><td>{_e(c.get('n'))}</td><td>{_e(c.get('missing'))}</td>"
                           f"<td>{_e(c.get('distinct'))}</td></tr>")
            out.append("</tbody></table>")

        suggestions = self.get("suggestions") or []
        if not suggestions:
            out.append("<p>No test fits this design.</p>")
        for i, s in enumerate(suggestions):
            tag = "Recommended" if i == 0 else f"Alternative {i}"
            out.append(f"<h4>{i + 1}. {_e(s.get('title'))} <small>({_e(tag)}; <code>{_e(s.get('test'))}</code>)</small></h4>")
            out.append(f"<p>{_e(s.get('rationale'))}</p>")
            assumptions = s.get("assumptions") or []
            if assumptions:
                out.append("<table><thead><tr><th>check</th><th>statistic</th><th>p</th><th>passed</th><th>detail</th>"
                           "</tr></thead><tbody>")
                for a in assumptions:
                    out.append(f"<tr><td>{_e(a.get('name'))}</td><td>{_e(_fmt_num(a.get('statistic')))}</td>"
                               f"<td>{_e(_fmt_p(a.get('p')))}</td><td>{_e(_passed(a.get('passed')))}</td>"
                               f"<td>{_e(a.get('detail'))}</td></tr>")
                out.append("</tbody></table>")
            effect = _fmt_effect(s.get("effect_size"))
            if effect:
                out.append(f"<p><b>Effect size</b>: {_e(effect)}</p>")
            posthoc = _fmt_posthoc(s.get("posthoc"))
            if posthoc:
                out.append(f"<p><b>Post-hoc</b>: {_e(posthoc)}</p>")
            warnings = s.get("warnings") or []
            if warnings:
                out.append("<ul class=\"datadive-warnings\">" + "".join(f"<li>&#9888; {_e(w)}</li>" for w in warnings) + "</ul>")
            command = self.commands[i] if i < len(self.commands) else None
            if command:
                out.append(f"<p>Insert it: <code>{_e(command)}</code></p>")
            else:
                out.append(f"<p><i>No built-in template <code>{_e(s.get('template'))}</code> to insert yet.</i></p>")
        if self.inserted:
            out.append(f"<p><b>Suggestion {self.inserted} was put in the next cell.</b></p>")
        elif suggestions and self.commands and self.commands[0]:
            out.append("<p>Add <code>--insert</code> to the magic to put the recommended test in the next cell "
                       "(<code>--insert 2</code> for the second one).</p>")
        out.append("</div>")
        return "".join(out)

    def _text(self):
        lines = [f"Datadive assistant: {self.frame}"]
        design = self.get("design") or {}
        for text in design.get("assumed") or ():
            lines.append(f"Assumed: {text}")
        cols = self._columns()
        if cols:
            lines.append("Columns:")
            for name, c in cols.items():
                if isinstance(c, dict):
                    lines.append(f"  {c.get('name', name)}: {c.get('level')} ({c.get('reason')}); n={c.get('n')}, "
                                 f"missing={c.get('missing')}, distinct={c.get('distinct')}")
        suggestions = self.get("suggestions") or []
        if not suggestions:
            lines.append("No test fits this design.")
        for i, s in enumerate(suggestions):
            lines.append(f"{i + 1}. {s.get('title')} [{s.get('test')}]{' (recommended)' if i == 0 else ''}")
            lines.append(f"   {s.get('rationale')}")
            for a in s.get("assumptions") or ():
                lines.append(f"   - {a.get('name')}: passed={_passed(a.get('passed'))}; {a.get('detail') or ''}".rstrip("; "))
            effect = _fmt_effect(s.get("effect_size"))
            if effect:
                lines.append(f"   effect size: {effect}")
            posthoc = _fmt_posthoc(s.get("posthoc"))
            if posthoc:
                lines.append(f"   post-hoc: {posthoc}")
            for w in s.get("warnings") or ():
                lines.append(f"   warning: {w}")
            command = self.commands[i] if i < len(self.commands) else None
            lines.append(f"   insert: {command}" if command else f"   (no built-in template {s.get('template')} yet)")
        if self.inserted:
            lines.append(f"Suggestion {self.inserted} was put in the next cell.")
        return "\n".join(lines)

    def _repr_html_(self):
        return self._html()

    def __repr__(self):
        return self._text()

    def _repr_pretty_(self, p, cycle):
        p.text(self._text())


# ---------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------


class _HelpShown(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports problems as ``UsageError`` and never exits the kernel."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status=0, message=None):
        if message:
            print(message)
        raise _HelpShown()


def _templates_parser():
    p = _Parser(prog="%datadive templates", description="List the built-in cell templates.")
    p.add_argument("--category", help="only this category (explore, clean, stats, ...)")
    p.add_argument("--q", nargs="+", metavar="TEXT", help="words that must all appear in the id, title, description or tags")
    return p


def _suggest_parser():
    p = _Parser(prog="%datadive suggest", description="Suggest the statistical test for a DataFrame in the namespace.")
    p.add_argument("frame", metavar="DF", help="the variable name of a pandas DataFrame")
    p.add_argument("--outcome", nargs="+", required=True, metavar="Y",
                   help="the outcome column (several columns: wide repeated measures)")
    p.add_argument("--group", action="append", default=[], metavar="G", help="a between-subject factor (repeatable)")
    p.add_argument("--between", nargs="+", action="extend", default=[], metavar="B")
    p.add_argument("--within", nargs="+", action="extend", default=[], metavar="W")
    p.add_argument("--covariates", "--covariate", nargs="+", action="extend", default=[], metavar="C")
    p.add_argument("--predictors", "--predictor", nargs="+", action="extend", default=[], metavar="P")
    p.add_argument("--subject", metavar="S")
    p.add_argument("--weights", metavar="W", help="the count column of an aggregated table")
    p.add_argument("--strata", metavar="S")
    p.add_argument("--test-value", dest="test_value", metavar="X")
    p.add_argument("--expected", metavar="JSON", help='expected proportions, e.g. \'{"a": 0.5, "b": 0.5}\'')
    p.add_argument("--level", action="append", default=[], metavar="COL=LEVEL", help="override a column's level")
    p.add_argument("--goal", choices=("difference", "association", "prediction"))
    p.add_argument("--insert", nargs="?", type=int, const=1, default=None, metavar="N",
                   help="put suggestion N (default 1, the recommendation) in the next cell")
    return p


USAGE = """\
%datadive templates [--category C] [--q TEXT]
%datadive insert TEMPLATE key=value ... [--print] [--file PATH] [--help]
%datadive suggest DF --outcome Y [--group G] [--between B ...] [--within W ...] [--subject S]
                  [--covariates C ...] [--predictors P ...] [--weights W] [--strata S]
                  [--test-value X] [--expected JSON] [--level COL=LEVEL] [--goal GOAL] [--insert [N]]
Values: JSON (5, 0.1, true, null, ["a","b"], "two words"), Python literals ('a', True, None), else text."""


def _valid_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


# ---------------------------------------------------------------------------
# the magics
# ---------------------------------------------------------------------------


@magics_class
class DatadiveMagics(Magics):
    """``%datadive templates | insert | suggest`` (see the module documentation)."""

    @no_var_expand
    @line_magic
    def datadive(self, line=""):
        """Datadive cell templates and the statistical assistant. Subcommands:

        %datadive templates [--category C] [--q TEXT]
        %datadive insert TEMPLATE key=value ... [--print] [--file PATH]
        %datadive suggest DF --outcome Y [--group G ...] [--insert [N]]
        """
        line = (line or "").strip()
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            if command in ("", "help", "-h", "--help"):
                print(USAGE)
                return None
            if command in ("templates", "list"):
                return self._templates(rest)
            if command == "insert":
                return self._insert(rest)
            if command == "suggest":
                return self._suggest(rest)
        except _HelpShown:
            return None
        raise UsageError(f"unknown subcommand {command!r}\n{USAGE}")

    # -- templates -----------------------------------------------------------

    def _templates(self, rest):
        try:
            args = _templates_parser().parse_args(shlex.split(rest))
        except ValueError as exc:  # shlex: unclosed quote
            raise UsageError(f"%datadive templates: {exc}") from None
        templates = builtin_templates()
        words = [w.lower() for w in (args.q or ()) for w in w.split()]
        rows = []
        for t in templates.values():
            if args.category and t.category.lower() != args.category.lower():
                continue
            text = " ".join([t.id, t.title, t.description or "", " ".join(t.tags)]).lower()
            if any(w not in text for w in words):
                continue
            rows.append({"id": t.id, "title": t.title, "category": t.category, "description": t.description or ""})
        note = ""
        if not rows:
            categories = sorted({t.category for t in templates.values()})
            note = "No templates match. Categories: " + ", ".join(categories)
        return TemplateTable(rows, note)

    # -- insert --------------------------------------------------------------

    def _insert(self, rest):
        tokens = split_line(rest)
        options = {"print": False, "help": False, "file": None}
        positional, assignments = [], []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("--print", "--dry-run"):
                options["print"] = True
            elif tok in ("--help", "-h"):
                options["help"] = True
            elif tok == "--file":
                if i + 1 >= len(tokens):
                    raise UsageError("--file needs a path")
                i += 1
                try:
                    options["file"] = parse_value(tokens[i])
                except ValueError as exc:
                    raise UsageError(f"--file: {exc}") from None
            elif tok == "--version" or tok.startswith("--version="):
                raise UsageError("the kernel knows only the built-in templates (one version each); "
                                 "use the Datadive panel for stored versions, or --file PATH for a template document")
            elif tok.startswith("--"):
                raise UsageError(f"%datadive insert: unknown option {tok}\n{USAGE}")
            elif "=" in tok and (positional or options["file"]):
                assignments.append(tok)
            elif not positional and not options["file"]:
                positional.append(tok)
            else:
                raise UsageError(f"expected key=value, got {tok!r}")
            i += 1

        template = self._load_template(positional, options["file"])
        if options["help"]:
            print(inputs_help(template))
            return None
        props = dict((template.inputs.get("properties") or {}).items())
        values, errors = parse_assignments(assignments, props)
        if errors:
            # validate what could be read too, so every problem is listed at once
            try:
                template.validate_inputs(values)
            except InputError as exc:
                errors += exc.errors
            errors.sort(key=lambda e: e["path"])
            raise UsageError(f"template {template.id}: {len(errors)} invalid input{'s' if len(errors) > 1 else ''}\n"
                             f"{_error_lines(errors)}\n{inputs_help(template)}")
        _cells, code = render_code(template, values)
        if options["print"]:
            print(code)
            return None
        self.shell.set_next_input(code, replace=False)
        return None

    def _load_template(self, positional, path):
        if path is not None:
            if positional:
                raise UsageError("give either a template id or --file PATH, not both")
            if not isinstance(path, str) or not path:
                raise UsageError("--file needs a path")
            try:
                with open(path, encoding="utf-8") as fh:
                    doc = json.load(fh)
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read the template document {path!r}: {exc}") from None
            try:
                return Template.from_dict(doc)
            except TemplateError as exc:
                raise UsageError(f"{path}: {exc.message}\n{_error_lines(exc.errors)}") from None
        if not positional:
            raise UsageError("%datadive insert: which template? e.g. %datadive insert value-counts column=species\n"
                             "`%datadive templates` lists them.")
        template_id = positional[0]
        template = builtin_templates().get(template_id)
        if template is None:
            raise _unknown_template(template_id)
        return template

    # -- suggest -------------------------------------------------------------

    def _suggest(self, rest):
        first = rest.split(None, 1)[0] if rest.strip() else ""
        if not first or first.startswith("-"):
            raise UsageError("%datadive suggest: give the DataFrame's variable name first, "
                             "e.g. %datadive suggest df --outcome score --group treatment")
        try:
            tokens = shlex.split(rest)
        except ValueError as exc:
            if not _valid_name(first):
                raise UsageError(self._bad_name(first)) from None
            raise UsageError(f"%datadive suggest: {exc}") from None
        if not tokens or not _valid_name(tokens[0]) or tokens[0] != first:
            raise UsageError(self._bad_name(first))
        args = _suggest_parser().parse_args(tokens)
        name = args.frame
        frame = self._lookup_frame(name)

        try:
            from . import assistant
        except ImportError as exc:
            raise UsageError(f"the statistical assistant is not available: {exc}. "
                             "It needs numpy, pandas and scipy: pip install 'datadive[stats]'") from None

        kwargs = self._suggest_kwargs(args)
        try:
            result = assistant.suggest(frame, **kwargs)
        except DatadiveError as exc:
            if exc.errors:
                raise UsageError(f"the assistant cannot analyse this design:\n{_error_lines(exc.errors)}") from None
            raise UsageError(f"the assistant cannot analyse this design: {exc.message}") from None
        except Exception as exc:  # never a traceback in the notebook
            raise UsageError(f"the assistant failed: {type(exc).__name__}: {exc}") from None

        suggestions = result.get("suggestions") or []
        commands = [self._command_for(s, name) for s in suggestions]
        report = SuggestionReport(result, name, commands)
        if args.insert is not None:
            n = args.insert
            try:
                if not 1 <= n <= len(suggestions):
                    raise UsageError(f"--insert {n}: there {'is' if len(suggestions) == 1 else 'are'} "
                                     f"{len(suggestions)} suggestion{'s' if len(suggestions) != 1 else ''}")
                suggestion = suggestions[n - 1]
                template = builtin_templates().get(suggestion.get("template"))
                if template is None:
                    raise UsageError(f"--insert: there is no built-in template {suggestion.get('template')!r} "
                                     f"for {suggestion.get('title')} yet")
                _cells, code = render_code(template, self._suggestion_inputs(template, suggestion, name))
            except UsageError:
                self._display(report)  # the summary is still worth seeing
                raise
            self.shell.set_next_input(code, replace=False)
            report.inserted = n
        return report

    @staticmethod
    def _bad_name(text):
        shown = text if len(text) <= 60 else text[:57] + "..."
        return (f"{shown!r} is not a variable name. Give the name of a pandas DataFrame in your namespace "
                "(letters, digits and _, not starting with a digit), e.g. %datadive suggest df --outcome score")

    def _lookup_frame(self, name):
        ns = self.shell.user_ns
        if name not in ns:
            raise UsageError(f"there is no variable {name!r} in this kernel's namespace")
        frame = ns[name]
        try:
            import pandas as pd
        except ImportError:
            raise UsageError("%datadive suggest needs pandas: pip install pandas") from None
        if not isinstance(frame, pd.DataFrame):
            raise UsageError(f"{name!r} is a {type(frame).__module__}.{type(frame).__qualname__}, not a pandas DataFrame")
        return frame

    @staticmethod
    def _suggest_kwargs(args):
        kwargs = {"outcome": args.outcome[0] if len(args.outcome) == 1 else list(args.outcome)}
        between = list(args.group) + list(args.between)
        if between:
            kwargs["between"] = between
        if args.within:
            kwargs["within"] = args.within[0] if len(args.within) == 1 else list(args.within)
        if args.covariates:
            kwargs["covariates"] = list(args.covariates)
        if args.predictors:
            kwargs["predictors"] = list(args.predictors)
        for key in ("subject", "weights", "strata", "goal"):
            if getattr(args, key) is not None:
                kwargs[key] = getattr(args, key)
        if args.test_value is not None:
            try:
                value = parse_value(args.test_value)
            except ValueError as exc:
                raise UsageError(f"--test-value: {exc}") from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"--test-value: {args.test_value!r} is not a number")
            kwargs["test_value"] = value
        if args.expected is not None:
            try:
                value = parse_value(args.expected)
            except ValueError as exc:
                raise UsageError(f"--expected: {exc}") from None
            if not isinstance(value, dict):
                raise UsageError('--expected: give a JSON object of category -> proportion, e.g. \'{"a": 0.25, "b": 0.75}\'')
            kwargs["expected"] = value
        if args.level:
            levels = {}
            for item in args.level:
                col, sep, level = item.rpartition("=")
                if not sep or not col:
                    raise UsageError(f"--level: expected COLUMN=LEVEL, got {item!r}")
                levels[col] = level
            kwargs["levels"] = levels
        return kwargs

    @staticmethod
    def _suggestion_inputs(template, suggestion, name):
        inputs = dict(suggestion.get("inputs") or {})
        if "df" in (template.inputs.get("properties") or {}):
            inputs["df"] = name
        return inputs

    def _command_for(self, suggestion, name):
        template = builtin_templates().get(suggestion.get("template"))
        if template is None:
            return None
        return insert_command(template.id, self._suggestion_inputs(template, suggestion, name))

    @staticmethod
    def _display(obj):
        from IPython.display import display

        display(obj)


def load_ipython_extension(ipython):
    """Register the ``%datadive`` magics (``%load_ext cell_templates``)."""
    ipython.register_magics(DatadiveMagics)


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
