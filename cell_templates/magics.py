"""The ``%datadive`` line magic: ``templates``, ``insert`` and ``suggest``.

The user guide is the documentation of :mod:`cell_templates.kernel`. This module
reads the magic's line (with :mod:`cell_templates.values`), renders templates,
runs the assistant and returns the :mod:`cell_templates.reports` objects; every
problem becomes IPython's ``UsageError`` (a message, no traceback).
"""

from __future__ import annotations

import argparse
import difflib
import json
import shlex

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand

from .cells import cells_to_code
from .errors import DatadiveError, InputError, TemplateError
from .inputs import inputs_help
from .library import builtin_templates
from .literals import identifier_problem
from .reports import SuggestionReport, TemplateTable
from .template import Template
from .values import LineError, insert_command, parse_assignments, parse_value
from .values import split_line as _split_line


def split_line(line: str) -> list[str]:
    """:func:`cell_templates.values.split_line`, its problems reported as ``UsageError``."""
    try:
        return _split_line(line)
    except LineError as exc:
        raise UsageError(str(exc)) from None


def _error_lines(errors) -> str:
    return "\n".join(f"  {e.get('path') or '/'}: {e.get('message')}" for e in errors)


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
    """A DataFrame's variable name: the same rule as the REST assistant's kernel variables."""
    return identifier_problem(name, existing=True) is None


# ---------------------------------------------------------------------------
# the magics
# ---------------------------------------------------------------------------


@magics_class
class DatadiveMagics(Magics):
    """``%datadive templates | insert | suggest`` (see :mod:`cell_templates.kernel`)."""

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
        try:
            values, errors = parse_assignments(assignments, props)
        except LineError as exc:
            raise UsageError(str(exc)) from None
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


__all__ = ["DatadiveMagics", "load_ipython_extension", "render_code", "split_line", "USAGE"]
