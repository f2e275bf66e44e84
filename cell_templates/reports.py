"""The results of ``%datadive templates`` and ``%datadive suggest``: an HTML table or
summary in a notebook, aligned plain text in a terminal.

Both are plain containers (a list of rows, the assistant's result dict) with
``_repr_html_`` / ``__repr__`` / ``_repr_pretty_``, so code can use them as data.
Every value shown in HTML is escaped. Pure: no IPython import.
"""

from __future__ import annotations

import html
import json
import math


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


__all__ = ["TemplateTable", "SuggestionReport"]
