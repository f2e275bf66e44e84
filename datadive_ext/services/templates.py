"""Templates from three sources: ``builtin`` (shipped), ``path`` (read-only folders) and ``user`` (SQLite).

Ids are unique across sources; ``builtin`` wins over ``path``, and a user
template cannot take an id that either already uses. A stored version never
changes: an update adds a version, a delete retires the template (its versions
stay readable, so generated cells keep working).
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from cell_templates import Template, TemplateError, builtin_templates

from ..errors import Conflict, Forbidden, Invalid, NotFound, Stale
from ..pagination import Page, decode_cursor, encode_cursor
from ..store import Store, utcnow

SOURCES = ("builtin", "path", "user")
PARSED_CACHE_SIZE = 512


def _search_text(doc: dict) -> str:
    return " ".join([doc.get("id", ""), doc.get("title", ""), doc.get("description", ""), " ".join(doc.get("tags", []))]).lower()


def summary(template: Template, source: str, **extra) -> dict:
    out = {
        "id": template.id,
        "version": template.version,
        "title": template.title,
        "description": template.description,
        "category": template.category,
        "tags": list(template.tags),
        "source": source,
        "locked": template.locked,
        "assistant_test": (template.assistant or {}).get("test"),
    }
    out.update(extra)
    return out


def _row_summary(row: dict) -> dict:
    return {
        "id": row["id"], "version": row["latest_version"], "title": row["title"], "description": row["description"],
        "category": row["category"], "tags": json.loads(row["tags"]), "source": "user", "locked": bool(row["locked"]),
        "assistant_test": row["assistant_test"], "author": row["author"], "created_at": row["created_at"],
        "updated_at": row["updated_at"], "retired_at": row["retired_at"],
    }


def _row_values(template: Template) -> dict:
    """The listing columns of a user template's head row."""
    doc = template.to_dict()
    return {
        "title": template.title, "description": template.description, "category": template.category,
        "tags": json.dumps(list(template.tags)), "locked": int(template.locked),
        "assistant_test": (template.assistant or {}).get("test"), "search": _search_text(doc),
    }


def _cell_metadata_problems(template: Template) -> list[dict]:
    """Extra cell metadata a template gives its cells must be valid nbformat cell metadata."""
    import nbformat

    problems = []
    for i, cell in enumerate(template.cells):
        if not cell.get("metadata"):
            continue
        new_cell = nbformat.v4.new_code_cell if cell["cell_type"] == "code" else nbformat.v4.new_markdown_cell
        try:
            new_cell("", metadata=template.cell_metadata(i))  # validates the cell
        except nbformat.ValidationError as exc:
            problems.append({"path": f"/cells/{i}/metadata", "message": f"is not valid notebook cell metadata: {exc.message[:200]}"})
    return problems


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class _PathLibrary:
    """Templates read from administrator folders; re-read when a folder changes."""

    def __init__(self, folders, log: logging.Logger):
        self.folders = [Path(f).expanduser() for f in folders]
        self.log = log
        self._stamp = None
        self.templates: dict[str, Template] = {}
        self.problems: list[dict] = []

    def _current_stamp(self):
        stamp = []
        for folder in self.folders:
            try:
                files = sorted(folder.glob("*.json"))
                stamp.append((str(folder), tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)))
            except OSError:
                stamp.append((str(folder), None))
        return tuple(stamp)

    def refresh(self, reserved) -> None:
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        found, problems = {}, []
        for folder in self.folders:
            for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                try:
                    doc = json.loads(file.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
                    template = Template.from_dict(doc, trusted=True)
                except RecursionError:
                    problems.append({"path": str(file), "message": "unreadable: nested too deeply"})
                    continue
                except (OSError, ValueError) as exc:
                    problems.append({"path": str(file), "message": f"unreadable: {exc}"})
                    continue
                except TemplateError as exc:
                    problems.append({"path": str(file), "message": exc.message, "errors": exc.errors})
                    continue
                if template.id in reserved or template.id in found:
                    problems.append({"path": str(file), "message": f"id {template.id!r} is already used; skipped"})
                    continue
                found[template.id] = template
        for p in problems:
            self.log.warning("datadive template folder: %s: %s", p["path"], p["message"])
        self.templates, self.problems = found, problems


class TemplateService:
    def __init__(self, store: Store, template_paths=(), log: logging.Logger | None = None, admins=frozenset()):
        self.store = store
        self.log = log or logging.getLogger("datadive_ext")
        self.paths = _PathLibrary(template_paths, self.log)
        self.admins = frozenset(admins)
        self._parsed: dict[tuple[str, int], Template] = {}

    @functools.cached_property
    def builtin(self) -> dict[str, Template]:
        """The built-in library, loaded on first use (not while the server starts)."""
        return builtin_templates()

    # -- reading --------------------------------------------------------------

    def _path_templates(self) -> dict[str, Template]:
        if self.paths.folders:
            self.paths.refresh(_Reserved(self))
        return self.paths.templates

    def _user_row(self, tid: str) -> dict | None:
        return self.store.one("SELECT * FROM templates WHERE id = ?", [tid])

    def _user_template(self, tid: str, version: int) -> Template | None:
        """A stored version, parsed once: versions never change, so parsed ones are kept (LRU)."""
        key = (tid, version)
        template = self._parsed.pop(key, None)
        if template is None:
            row = self.store.one("SELECT doc FROM template_versions WHERE template_id = ? AND version = ?", [tid, version])
            if row is None:
                return None
            template = Template.from_dict(json.loads(row["doc"]))
        self._parsed[key] = template
        if len(self._parsed) > PARSED_CACHE_SIZE:
            self._parsed.pop(next(iter(self._parsed)))
        return template

    def source_of(self, tid: str) -> str | None:
        if tid in self.builtin:
            return "builtin"
        if tid in self._path_templates():
            return "path"
        if self._user_row(tid):
            return "user"
        return None

    def resolve(self, tid: str, version: int | None = None) -> tuple[Template, str, dict]:
        """``(template, source, info)`` for a version (default: the latest); NotFound otherwise."""
        source = self.source_of(tid)
        if source in ("builtin", "path"):
            template = self.builtin[tid] if source == "builtin" else self.paths.templates[tid]
            if version is not None and version != template.version:
                raise NotFound(f"template {tid} has no version {version}", [{"path": "/version", "message": "no such version"}], code="version_not_found")
            return template, source, {"author": None, "created_at": None, "updated_at": None, "retired_at": None}
        if source == "user":
            row = self._user_row(tid)
            if version is not None and version > row["latest_version"]:
                template = None
            else:
                template = self._user_template(tid, version or row["latest_version"])
            if template is None:
                raise NotFound(f"template {tid} has no version {version}", [{"path": "/version", "message": "no such version"}], code="version_not_found")
            info = {k: row[k] for k in ("author", "created_at", "updated_at", "retired_at")}
            info["latest_version"] = row["latest_version"]
            return template, source, info
        raise NotFound(f"no template {tid!r}", code="template_not_found")

    def get(self, tid: str, version: int | None = None) -> dict:
        template, source, info = self.resolve(tid, version)
        latest = info.pop("latest_version", template.version)
        return summary(template, source, latest_version=latest, **info, document=template.to_dict())

    def versions(self, tid: str) -> list[dict]:
        template, source, _ = self.resolve(tid)
        if source != "user":
            return [{"version": template.version, "author": None, "created_at": None}]
        return self.store.query(
            "SELECT version, author, created_at FROM template_versions WHERE template_id = ? ORDER BY version", [tid]
        )

    def list(self, *, category=None, tag=None, q=None, source=None, retired=False, limit=50, cursor=None) -> Page:
        """Summaries sorted by id, filtered, one page at a time (keyset on id)."""
        if source is not None and source not in SOURCES:
            raise Invalid("unknown source", [{"path": "/source", "message": "must be one of " + ", ".join(SOURCES)}])
        after = decode_cursor(cursor, (str,))[0] if cursor else ""
        needle = (q or "").strip().lower()
        items: list[dict] = []
        for src, library in (("builtin", self.builtin), ("path", self._path_templates())):
            if source not in (None, src):
                continue
            for tid, t in library.items():
                if tid <= after:
                    continue
                if category and t.category != category:
                    continue
                if tag and tag not in t.tags:
                    continue
                if needle and needle not in _search_text({"id": t.id, "title": t.title, "description": t.description, "tags": t.tags}):
                    continue
                items.append(summary(t, src))
        if source in (None, "user"):
            sql = ["SELECT id, latest_version, title, description, category, tags, locked, assistant_test, author,"
                   " created_at, updated_at, retired_at FROM templates WHERE id > ?"]
            params: list = [after]
            if not retired:
                sql.append("AND retired_at IS NULL")
            if category:
                sql.append("AND category = ?")
                params.append(category)
            if tag:
                sql.append("AND EXISTS (SELECT 1 FROM json_each(templates.tags) WHERE value = ?)")
                params.append(tag)
            if needle:
                sql.append("AND instr(search, ?) > 0")
                params.append(needle)
            sql.append("ORDER BY id LIMIT ?")
            params.append(limit + 1)
            items.extend(_row_summary(row) for row in self.store.query(" ".join(sql), params))
        items.sort(key=lambda s: s["id"])
        page = items[:limit]
        next_cursor = encode_cursor([page[-1]["id"]]) if len(items) > limit else None
        return Page(page, next_cursor)

    # -- writing (user templates only) ------------------------------------------

    def _parse(self, doc) -> Template:
        if isinstance(doc, dict):
            doc = {k: v for k, v in doc.items() if k != "version"}  # the server assigns versions
        template = Template.from_dict(doc)
        errors = _cell_metadata_problems(template)
        if errors:
            raise TemplateError("the template document is invalid", errors)
        return template

    def create(self, doc, user: str) -> dict:
        template = self._parse(doc)
        if self.source_of(template.id) is not None:
            raise Conflict(f"a template with id {template.id!r} already exists", [{"path": "/id", "message": "already exists"}], code="template_exists")
        now = utcnow()
        with self.store.transaction():
            self.store.db.insert("templates", {
                "id": template.id, "latest_version": 1, "author": user, **_row_values(template),
                "created_at": now, "updated_at": now, "retired_at": None,
            })
            self.store.db.insert("template_versions", {
                "template_id": template.id, "version": 1, "doc": json.dumps(template.to_dict()), "author": user, "created_at": now,
            })
        return self.get(template.id)

    def _writable(self, tid: str, user: str) -> dict:
        source = self.source_of(tid)
        if source is None:
            raise NotFound(f"no template {tid!r}", code="template_not_found")
        if source != "user":
            raise Forbidden(f"template {tid!r} comes from the {source} library, which is read-only; create a copy under another id to change it", code="read_only")
        row = self._user_row(tid)
        if user != row["author"] and user not in self.admins:
            raise Forbidden(f"only the author of template {tid!r} ({row['author']}) or the server owner may change it", code="not_author")
        return row

    def update(self, tid: str, doc, user: str, if_match: int | None) -> dict:
        row = self._writable(tid, user)
        if row["retired_at"]:
            raise Conflict(f"template {tid!r} is retired", code="template_retired")
        if if_match is None:
            raise Stale("an update needs If-Match with the version it replaces", [{"path": "/headers/If-Match", "message": "is required"}], code="if_match_required")
        if if_match != row["latest_version"]:
            raise Stale(f"template {tid!r} is at version {row['latest_version']}, not {if_match}", [{"path": "/headers/If-Match", "message": f"current version is {row['latest_version']}"}])
        template = self._parse(doc)
        if template.id != tid:
            raise Invalid("the document's id must match the URL", [{"path": "/id", "message": f"must be {tid!r}"}])
        version = row["latest_version"] + 1
        now = utcnow()
        with self.store.transaction():
            values = {**_row_values(template), "latest_version": version, "updated_at": now}
            changed = self.store.execute(
                "UPDATE templates SET " + ", ".join(f"{k} = ?" for k in values) + " WHERE id = ? AND latest_version = ?",
                [*values.values(), tid, if_match],
            ).rowcount
            if not changed:
                raise Stale(f"template {tid!r} changed meanwhile", [{"path": "/headers/If-Match", "message": "is stale"}])
            doc_out = template.with_version(version).to_dict()
            self.store.db.insert("template_versions", {"template_id": tid, "version": version, "doc": json.dumps(doc_out), "author": user, "created_at": now})
        return self.get(tid)

    def retire(self, tid: str, user: str) -> None:
        row = self._writable(tid, user)
        if not row["retired_at"]:
            now = utcnow()
            with self.store.transaction():
                self.store.execute("UPDATE templates SET retired_at = ?, updated_at = ? WHERE id = ?", [now, now, tid])

    def render(self, tid: str, inputs, version: int | None = None) -> list[dict]:
        template, _, _ = self.resolve(tid, version)
        return template.render(inputs)



class _Reserved:
    """Ids a folder template may not take: built-in ones and stored user templates."""

    def __init__(self, service: TemplateService):
        self.service = service

    def __contains__(self, tid) -> bool:
        return tid in self.service.builtin or self.service._user_row(tid) is not None
