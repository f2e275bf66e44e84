"""An ipywidgets form built from a template's input schema: ``cell_templates.form(template)``.

Needs ipywidgets (not a dependency of the pure library): importing this module
without it raises an ``ImportError`` that says what to install.

Widgets by schema:

- ``string`` -> ``Text`` (``Textarea`` when ``ui:widget`` is ``textarea``);
  ``enum`` -> ``Dropdown`` (labels from ``ui:enumNames``);
- ``integer`` / ``number`` -> ``IntText`` / ``FloatText`` (the bounded variants
  when the schema has ``minimum`` / ``maximum``, exclusive bounds validated on
  Generate); an optional number without default gets a "set" checkbox, ticked
  as soon as a value is typed;
- ``boolean`` -> ``Checkbox`` (a yes / no / unset ``Dropdown`` when optional
  without default);
- array of strings -> ``TagsInput`` (``Textarea`` one entry per line when the
  items' ``ui:widget`` is ``textarea``); of numbers -> ``FloatsInput`` /
  ``IntsInput``; of an ``enum`` -> ``SelectMultiple``; of objects -> a list of
  nested boxes with Add / Remove buttons;
- ``object`` with ``properties`` -> a nested box; an object without properties
  (a mapping) -> a ``Textarea`` holding JSON;
- anything else (``anyOf`` / ``oneOf``, e.g. "a column or a list of columns")
  -> a ``Text`` read like a ``%datadive insert`` value: JSON, then a Python
  literal, else the text itself (``species``, ``["a", "b"]``, ``1``, ``"1"``).

Titles are the labels, descriptions the tooltips and the help line under each
field; ``ui:order`` is respected (``*`` stands for the remaining inputs).
An empty field means "not given" unless the input has a default.

**Generate** validates the values (each problem is shown in red under its
field, others above the button), renders the template and shows the code in a
text box (code cells joined; Markdown cells as comments, as
``%datadive insert`` does) with the ``%datadive insert`` command that produces
the same cell. A widget callback cannot create a notebook cell
(``set_next_input`` works only from a cell the user ran), so copy the code, or
paste the command in a cell and run it. ``on_submit(cells)`` is called with the
rendered nbformat cells after each successful Generate.
"""

from __future__ import annotations

try:
    import ipywidgets as widgets
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "cell_templates.form needs ipywidgets, which is not installed in this environment. "
        "Install it with `pip install ipywidgets` and restart the kernel.",
        name="ipywidgets",
    ) from _exc

import html
import json
import math
import sys

from .cells import cells_to_code
from .errors import InputError, TemplateError, pointer
from .inputs import input_order
from .library import builtin_templates
from .template import Template
from .validation import copy_json
from .values import format_value, insert_command, parse_value

_ABSENT = object()
_LABEL_WIDTH = "190px"


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _child(path, key):
    return path + (key,)


# ---------------------------------------------------------------------------
# fields
# ---------------------------------------------------------------------------


class Field:
    """One input: ``widget`` (what is shown), ``input`` (the editable widget),
    ``get()`` -> value or ``_ABSENT``, ``set(value)``, ``error`` (an HTML widget)."""

    def __init__(self, name, schema, ui, required, path):
        self.name = name
        self.schema = schema
        self.ui = ui or {}
        self.required = required
        self.path = path
        self.has_default = "default" in schema
        self.default = schema.get("default")
        self.title = self.ui.get("ui:title") or schema.get("title") or str(name)
        self.description = self.ui.get("ui:description") or schema.get("description") or ""
        self.error = widgets.HTML("", layout=widgets.Layout(display="none"))
        self.input = self.build()
        if hasattr(self.input, "tooltip") and self.description:
            self.input.tooltip = self.description
        if self.has_default:
            self.set(self.default)
        self.widget = self.layout()

    # -- building --------------------------------------------------------------

    def build(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def label(self):
        star = " <span style=\"color:#c00\">*</span>" if self.required else ""
        return widgets.HTML(f"<b>{_e(self.title)}</b>{star}", layout=widgets.Layout(width=_LABEL_WIDTH, min_width=_LABEL_WIDTH))

    def help(self):
        text = self.ui.get("ui:help") or self.description
        if not text:
            return None
        return widgets.HTML(f"<small style=\"color:#666\">{_e(text)}</small>",
                            layout=widgets.Layout(margin=f"0 0 0 {_LABEL_WIDTH}"))

    def controls(self):
        return [self.input]

    def layout(self):
        parts = [widgets.HBox([self.label(), *self.controls()])]
        h = self.help()
        if h is not None:
            parts.append(h)
        parts.append(self.error)
        return widgets.VBox(parts, layout=widgets.Layout(margin="2px 0 6px 0"))

    # -- values ----------------------------------------------------------------

    def empty_means_absent(self):
        return not self.has_default

    def get(self):
        raise NotImplementedError

    def set(self, value):
        raise NotImplementedError

    def clear(self):
        """Back to the initial state (the default, or empty)."""
        if self.has_default:
            self.set(self.default)
        else:
            self.set(_ABSENT)

    # -- errors ----------------------------------------------------------------

    def show_errors(self, messages):
        if messages:
            self.error.value = "".join(f"<div style=\"color:#c00\">&#9888; {_e(m)}</div>" for m in messages)
            self.error.layout.display = None
        else:
            self.error.value = ""
            self.error.layout.display = "none"

    def children(self):
        """``{key: Field}`` of nested fields (objects, arrays of objects)."""
        return {}

    def all_fields(self):
        yield self
        for child in self.children().values():
            yield from child.all_fields()


class ParseProblem(Exception):
    pass


class TextField(Field):
    def build(self):
        kind = self.ui.get("ui:widget")
        cls = widgets.Textarea if kind == "textarea" or self.schema.get("format") == "textarea" else widgets.Text
        w = cls(value="", placeholder=self.ui.get("ui:placeholder", ""), continuous_update=False,
                layout=widgets.Layout(width="360px"))
        return w

    def get(self):
        value = self.input.value
        if value == "" and self.empty_means_absent():
            return _ABSENT
        return value

    def set(self, value):
        self.input.value = "" if value is _ABSENT or value is None else str(value)


class EnumField(Field):
    def build(self):
        enum = list(self.schema.get("enum") or [self.schema.get("const")])
        names = list(self.ui.get("ui:enumNames") or [])
        options = [((names[i] if i < len(names) else format_value(v) if not isinstance(v, str) else v), i)
                   for i, v in enumerate(enum)]
        self.values = enum
        if not self.required and not self.has_default:
            options = [("\u2014", -1)] + options
        return widgets.Dropdown(options=options, value=options[0][1], layout=widgets.Layout(width="360px"))

    def get(self):
        i = self.input.value
        return _ABSENT if i == -1 else self.values[i]

    def set(self, value):
        if value is _ABSENT or value is None and None not in self.values:
            if any(v == -1 for _, v in self.input.options):
                self.input.value = -1
            return
        for i, v in enumerate(self.values):
            if v == value and type(v) is type(value):
                self.input.value = i
                return
        raise ValueError(f"{self.name}: {value!r} is not one of the choices")


class NumberField(Field):
    def build(self):
        integer = self.schema.get("type") == "integer"
        lo = self.schema.get("minimum")
        hi = self.schema.get("maximum")
        ex_lo = self.schema.get("exclusiveMinimum")
        ex_hi = self.schema.get("exclusiveMaximum")
        if integer:
            if lo is None and isinstance(ex_lo, (int, float)):
                lo = math.floor(ex_lo) + 1
            if hi is None and isinstance(ex_hi, (int, float)):
                hi = math.ceil(ex_hi) - 1
        else:
            lo = lo if lo is not None else ex_lo  # the exclusive bound itself is refused on Generate
            hi = hi if hi is not None else ex_hi
        layout = widgets.Layout(width="180px")
        if lo is None and hi is None:
            w = (widgets.IntText if integer else widgets.FloatText)(value=0, layout=layout)
        else:
            big = 2**53 if integer else sys.float_info.max
            cls = widgets.BoundedIntText if integer else widgets.BoundedFloatText
            lo_v = lo if lo is not None else -big
            hi_v = hi if hi is not None else big
            start = lo_v if lo is not None else (hi_v if hi is not None and hi_v < 0 else 0)
            w = cls(min=lo_v, max=hi_v, value=start, layout=layout)
        self.optional = not self.required and not self.has_default
        self.enabled = widgets.Checkbox(value=False, description="set", indent=False,
                                        layout=widgets.Layout(width="60px")) if self.optional else None
        if self.enabled is not None:
            w.observe(self._touched, names="value")
        return w

    def _touched(self, change):
        if not getattr(self, "_setting", False):
            self.enabled.value = True

    def controls(self):
        return [self.input] + ([self.enabled] if self.enabled is not None else [])

    def get(self):
        if self.enabled is not None and not self.enabled.value:
            return _ABSENT
        value = self.input.value
        if self.schema.get("type") == "integer":
            return int(value)
        value = float(value)
        # JSON has one number type: 100.0 is written 100, as the same value typed in JSON would be
        return int(value) if value.is_integer() and abs(value) < 2**53 else value

    def set(self, value):
        self._setting = True
        try:
            if value is _ABSENT or value is None:
                if self.enabled is not None:
                    self.enabled.value = False
                return
            self.input.value = value
            if self.enabled is not None:
                self.enabled.value = True
        finally:
            self._setting = False


class BoolField(Field):
    def build(self):
        if not self.required and not self.has_default:
            self.tristate = True
            return widgets.Dropdown(options=[("\u2014", "unset"), ("yes", "yes"), ("no", "no")], value="unset",
                                    layout=widgets.Layout(width="120px"))
        self.tristate = False
        return widgets.Checkbox(value=False, indent=False)

    def get(self):
        if self.tristate:
            return {"unset": _ABSENT, "yes": True, "no": False}[self.input.value]
        return bool(self.input.value)

    def set(self, value):
        if self.tristate:
            self.input.value = "unset" if value is _ABSENT or value is None else ("yes" if value else "no")
        else:
            self.input.value = bool(value) if value is not _ABSENT else False


class MultiEnumField(Field):
    def build(self):
        items = self.schema.get("items") or {}
        self.values = list(items.get("enum") or [])
        names = list(((self.ui.get("items") or {}).get("ui:enumNames")) or [])
        options = [((names[i] if i < len(names) else str(v)), i) for i, v in enumerate(self.values)]
        return widgets.SelectMultiple(options=options, value=(), rows=min(len(options), 8),
                                      layout=widgets.Layout(width="360px"))

    def get(self):
        value = [self.values[i] for i in self.input.value]
        if not value and self.empty_means_absent():
            return _ABSENT
        return value

    def set(self, value):
        if value is _ABSENT or value is None:
            self.input.value = ()
            return
        idx = []
        for v in value:
            if v not in self.values:
                raise ValueError(f"{self.name}: {v!r} is not one of the choices")
            idx.append(self.values.index(v))
        self.input.value = tuple(idx)


class ListField(Field):
    """An array of strings or numbers: TagsInput / FloatsInput / IntsInput, or a Textarea one per line."""

    def build(self):
        items = self.schema.get("items") or {}
        self.item_type = items.get("type") if isinstance(items.get("type"), str) else "string"
        item_ui = self.ui.get("items") or {}
        unique = bool(self.schema.get("uniqueItems"))
        self.lines = item_ui.get("ui:widget") == "textarea" or self.ui.get("ui:widget") == "textarea"
        layout = widgets.Layout(width="360px")
        if self.lines:
            return widgets.Textarea(value="", placeholder="one entry per line", rows=4, layout=layout)
        if self.item_type == "integer":
            return widgets.IntsInput(value=[], allow_duplicates=not unique, layout=layout)
        if self.item_type == "number":
            return widgets.FloatsInput(value=[], allow_duplicates=not unique, layout=layout)
        return widgets.TagsInput(value=[], allow_duplicates=not unique, layout=layout)

    def get(self):
        if self.lines:
            value = [line for line in self.input.value.splitlines() if line.strip()]
        else:
            value = list(self.input.value)
        if not value and self.empty_means_absent():
            return _ABSENT
        return value

    def set(self, value):
        if value is _ABSENT or value is None:
            value = []
        if self.lines:
            self.input.value = "\n".join(str(v) for v in value)
        else:
            self.input.value = list(value)


class JSONField(Field):
    """A JSON value in a Textarea (objects used as mappings, anything without a simpler widget)."""

    def build(self):
        return widgets.Textarea(value="", placeholder="JSON, e.g. {\"a\": 0.5, \"b\": 0.5}", rows=3,
                                layout=widgets.Layout(width="360px"))

    def get(self):
        text = self.input.value.strip()
        if not text:
            return _ABSENT if self.empty_means_absent() else None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ParseProblem(f"is not valid JSON: {exc}") from None

    def set(self, value):
        self.input.value = "" if value is _ABSENT else json.dumps(value, ensure_ascii=False)


class LiteralField(Field):
    """A value of several possible types, typed as in ``%datadive insert``: JSON, a Python literal, else text."""

    def build(self):
        return widgets.Text(value="", placeholder=self.ui.get("ui:placeholder", 'text, 5, true, or ["a", "b"]'),
                            continuous_update=False, layout=widgets.Layout(width="360px"))

    def get(self):
        text = self.input.value
        if text.strip() == "":
            return _ABSENT if self.empty_means_absent() else ""
        try:
            return parse_value(text.strip())
        except ValueError as exc:
            raise ParseProblem(str(exc)) from None

    def set(self, value):
        self.input.value = "" if value is _ABSENT or value is None and not self.has_default else format_value(value)


class ObjectField(Field):
    """An object with properties: a nested, bordered box of fields."""

    def build(self):
        props = self.schema.get("properties") or {}
        required = set(self.schema.get("required") or ())
        self.fields = {}
        for key in input_order(props, self.ui):
            sub_ui = self.ui.get(key) if isinstance(self.ui.get(key), dict) else {}
            if sub_ui.get("ui:widget") == "hidden":
                continue
            self.fields[key] = make_field(key, props[key], sub_ui, key in required, _child(self.path, key))
        return widgets.VBox([f.widget for f in self.fields.values()],
                            layout=widgets.Layout(border="1px solid #ddd", padding="4px 8px", margin="0 0 0 8px"))

    def layout(self):
        parts = [self.label()]
        h = self.help()
        if h is not None:
            parts.append(h)
        parts += [self.input, self.error]
        return widgets.VBox(parts, layout=widgets.Layout(margin="2px 0 6px 0"))

    def children(self):
        return self.fields

    def get(self):
        out = {}
        problems = []
        for key, field in self.fields.items():
            try:
                v = field.get()
            except ParseProblem as exc:
                problems.append((field, str(exc)))
                continue
            if v is not _ABSENT:
                out[key] = v
        if problems:
            raise _Problems(problems)
        if not out and not self.required and not self.has_default:
            return _ABSENT
        return out

    def set(self, value):
        value = {} if value is _ABSENT or value is None else value
        for key, field in self.fields.items():
            if key in value:
                field.set(value[key])
            else:
                field.clear()


class _Problems(Exception):
    def __init__(self, problems):
        super().__init__(problems)
        self.problems = problems


class ObjectListField(Field):
    """An array of objects: one nested box per item, with Add and Remove buttons."""

    def build(self):
        self.item_schema = self.schema.get("items") or {}
        self.item_ui = self.ui.get("items") if isinstance(self.ui.get("items"), dict) else {}
        self.items: list[ObjectField] = []
        self.rows = widgets.VBox([])
        self.add_button = widgets.Button(description="Add", icon="plus", layout=widgets.Layout(width="90px"))
        self.add_button.on_click(lambda _b: self.add())
        return widgets.VBox([self.rows, self.add_button])

    def layout(self):
        parts = [self.label()]
        h = self.help()
        if h is not None:
            parts.append(h)
        parts += [self.input, self.error]
        return widgets.VBox(parts, layout=widgets.Layout(margin="2px 0 6px 0"))

    def _refresh(self):
        rows = []
        for i, item in enumerate(self.items):
            _repath(item, _child(self.path, i))
            item.title = f"{self.item_schema.get('title') or 'Item'} {i + 1}"
            remove = widgets.Button(description="Remove", icon="trash", layout=widgets.Layout(width="100px"))
            remove.on_click(lambda _b, it=item: self.remove(it))
            rows.append(widgets.HBox([item.widget, remove]))
        self.rows.children = rows

    def add(self, value=_ABSENT):
        item = make_field(len(self.items), self.item_schema, self.item_ui, True, _child(self.path, len(self.items)))
        if value is not _ABSENT:
            item.set(value)
        self.items.append(item)
        self._refresh()
        return item

    def remove(self, item):
        self.items.remove(item)
        self._refresh()

    def children(self):
        return {i: item for i, item in enumerate(self.items)}

    def get(self):
        out, problems = [], []
        for item in self.items:
            try:
                v = item.get()
            except _Problems as exc:
                problems += exc.problems
                continue
            except ParseProblem as exc:
                problems.append((item, str(exc)))
                continue
            out.append({} if v is _ABSENT else v)
        if problems:
            raise _Problems(problems)
        if not out and self.empty_means_absent():
            return _ABSENT
        return out

    def set(self, value):
        self.items = []
        for v in ([] if value is _ABSENT or value is None else value):
            self.add(v)
        self._refresh()


def _repath(field, path):
    """Give ``field`` and its nested fields their paths again (after an item moved in a list)."""
    field.path = path
    for key, child in field.children().items():
        _repath(child, _child(path, key))


def make_field(name, schema, ui, required, path) -> Field:
    schema = schema if isinstance(schema, dict) else {}
    ui = ui if isinstance(ui, dict) else {}
    t = schema.get("type")
    if "enum" in schema or "const" in schema:
        return EnumField(name, schema, ui, required, path)
    if t == "string":
        return TextField(name, schema, ui, required, path)
    if t in ("integer", "number"):
        return NumberField(name, schema, ui, required, path)
    if t == "boolean":
        return BoolField(name, schema, ui, required, path)
    if t == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        it = items.get("type")
        if "enum" in items:
            return MultiEnumField(name, schema, ui, required, path)
        if it in ("string", "integer", "number"):
            return ListField(name, schema, ui, required, path)
        if it == "object" and items.get("properties"):
            return ObjectListField(name, schema, ui, required, path)
        return JSONField(name, schema, ui, required, path)
    if t == "object":
        if schema.get("properties"):
            return ObjectField(name, schema, ui, required, path)
        return JSONField(name, schema, ui, required, path)
    return LiteralField(name, schema, ui, required, path)


# ---------------------------------------------------------------------------
# the form
# ---------------------------------------------------------------------------


class TemplateForm(widgets.VBox):
    """The form of one template (an ``ipywidgets.VBox``; display it, or let it be a cell's result).

    - ``fields``: ``{input name: Field}`` (``field.input`` is the editable widget,
      ``field.error`` shows its problems);
    - ``values()`` / ``set_values(dict)``: read or fill the inputs;
    - ``button`` (Generate), ``generate()`` (the same as a click);
    - after Generate: ``cells`` (rendered nbformat cells), ``code`` (one cell's
      text), ``command`` (the ``%datadive insert`` line, built-in templates only),
      ``errors`` (``[{path, message}]``, empty when valid); ``output`` is the code
      box, ``status`` the message line.
    """

    def __init__(self, template: Template, on_submit=None):
        self.template = template
        self.on_submit = on_submit
        self.cells = None
        self.code = None
        self.command = None
        self.errors: list[dict] = []
        schema = copy_json(template.inputs)
        ui = copy_json(template.ui) or {}
        props = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        self.fields: dict[str, Field] = {}
        for name in input_order(props, ui):
            sub_ui = ui.get(name) if isinstance(ui.get(name), dict) else {}
            if sub_ui.get("ui:widget") == "hidden":
                continue
            self.fields[name] = make_field(name, props[name], sub_ui, name in required, (name,))

        header = widgets.HTML(f"<h3 style=\"margin:4px 0\">{_e(template.title)}</h3>"
                              + (f"<p style=\"margin:0 0 6px 0\">{_e(template.description)}</p>" if template.description else ""))
        self.button = widgets.Button(description="Generate", button_style="primary", icon="code")
        self.button.on_click(self._clicked)
        self.status = widgets.HTML("")
        self.output = widgets.Textarea(value="", rows=12, layout=widgets.Layout(width="100%", display="none"))
        self.hint = widgets.HTML("", layout=widgets.Layout(display="none"))
        super().__init__([header, *[f.widget for f in self.fields.values()],
                          widgets.HBox([self.button, self.status]), self.hint, self.output])

    # -- values ----------------------------------------------------------------

    def _collect(self):
        values, problems = {}, []
        for name, field in self.fields.items():
            try:
                v = field.get()
            except ParseProblem as exc:
                problems.append((field, str(exc)))
                continue
            except _Problems as exc:
                problems += exc.problems
                continue
            if v is not _ABSENT:
                values[name] = v
        return values, problems

    def values(self) -> dict:
        """The inputs as the form holds them (absent ones left out); ``ValueError`` if a field cannot be read."""
        values, problems = self._collect()
        if problems:
            raise ValueError("; ".join(f"{pointer(f.path)}: {m}" for f, m in problems))
        return values

    def set_values(self, values: dict) -> None:
        """Fill the fields from ``values``; inputs not in ``values`` go back to their default / empty."""
        unknown = sorted(set(values) - set(self.fields))
        if unknown:
            raise KeyError(f"not inputs of {self.template.id}: {', '.join(unknown)}")
        for name, field in self.fields.items():
            if name in values:
                field.set(values[name])
            else:
                field.clear()

    # -- generate ----------------------------------------------------------------

    def _clicked(self, _button):
        self.generate()

    def _all_fields(self):
        for field in self.fields.values():
            yield from field.all_fields()

    def _show(self, errors):
        by_path = {f.path: f for f in self._all_fields()}
        per_field, loose = {}, []
        for err in errors:
            parts = [p for p in err["path"].split("/")[1:]]
            parts = [p.replace("~1", "/").replace("~0", "~") for p in parts]
            parts = [int(p) if p.isdigit() else p for p in parts]
            target = None
            for n in range(len(parts), 0, -1):
                target = by_path.get(tuple(parts[:n]))
                if target is not None:
                    break
            if target is None:
                loose.append(err)
            else:
                suffix = pointer(parts[len(target.path):])
                per_field.setdefault(id(target), (target, []))[1].append((suffix + ": " if suffix else "") + err["message"])
        for field in self._all_fields():
            entry = per_field.get(id(field))
            field.show_errors(entry[1] if entry else [])
        n = len(errors)
        text = _e(f"{n} problem{'s' if n > 1 else ''}" + (": see the fields marked in red." if per_field else ":"))
        text += "".join(f"<br>{_e(e['path'] or '/')}: {_e(e['message'])}" for e in loose)
        self.status.value = f"<span style=\"color:#c00\">{text}</span>"

    def generate(self):
        """Validate, render and show the code (what the Generate button does); the cells, or None."""
        self.cells = self.code = self.command = None
        values, problems = self._collect()
        if problems:
            self.errors = [{"path": pointer(f.path), "message": m} for f, m in problems]
            self._show(self.errors)
            self._hide_output()
            return None
        try:
            cells = self.template.render(values)
        except (InputError, TemplateError) as exc:
            self.errors = list(exc.errors) or [{"path": "", "message": exc.message}]
            self._show(self.errors)
            self._hide_output()
            return None
        self.errors = []
        for field in self._all_fields():
            field.show_errors([])
        self.cells = cells
        self.code = cells_to_code(cells)
        if builtin_templates().get(self.template.id) == self.template:
            self.command = insert_command(self.template.id, self._short(values))
        self.output.value = self.code
        self.output.rows = max(4, min(30, self.code.count("\n") + 1))
        self.output.layout.display = None
        hint = "Copy the code below (click in the box, Ctrl+A, Ctrl+C) into a cell"
        if self.command:
            hint += f", or run this line in a cell to insert it as a new cell: <code>{_e(self.command)}</code>"
        self.hint.value = f"<small>{hint}.</small>"
        self.hint.layout.display = None
        self.status.value = "<span style=\"color:#080\">Generated.</span>"
        if self.on_submit is not None:
            try:
                self.on_submit(cells)
            except Exception as exc:  # a callback error must be seen, not lost in the widget log
                self.status.value = f"<span style=\"color:#c00\">on_submit failed: {_e(type(exc).__name__)}: {_e(exc)}</span>"
        return cells

    def _hide_output(self):
        self.output.value = ""
        self.output.layout.display = "none"
        self.hint.value = ""
        self.hint.layout.display = "none"

    def _short(self, values):
        props = copy_json(self.template.inputs).get("properties") or {}
        return {k: v for k, v in values.items() if not ("default" in props.get(k, {}) and props[k]["default"] == v)}


def form(template, on_submit=None) -> TemplateForm:
    """An ipywidgets form for ``template`` (a :class:`Template` or a built-in template id)."""
    if isinstance(template, str):
        found = builtin_templates().get(template)
        if found is None:
            raise KeyError(f"no built-in template {template!r}")
        template = found
    if not isinstance(template, Template):
        raise TypeError("template must be a Template or a built-in template id")
    return TemplateForm(template, on_submit=on_submit)


__all__ = ["form", "TemplateForm", "Field"]
