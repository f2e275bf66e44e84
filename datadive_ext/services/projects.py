"""Projects: a folder in the contents root plus a row in SQLite, with members and roles.

Every folder and notebook operation goes through the server's contents manager,
so any contents manager works. A project folder holds a small manifest
(``datadive-project.json``, ``{"id": ...}``) so that a folder renamed or moved
outside the server (a terminal ``mv``) is found again; renames done through the
server are followed as they happen (see ``follow_rename``), and the journal of
cell operations follows its notebooks (``Journal.rename``).

Statements that write to SQLite (and can therefore wait for another process's
lock on the file) run off the event loop through ``Store.write``; reads do not
wait in WAL mode and run where they are called.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
import re
import time
import unicodedata
import uuid

import nbformat
from jupyter_core.utils import ensure_async

from ..errors import Conflict, Forbidden, Invalid, NotFound, environment_error
from ..journal import Journal
from ..pagination import Page, decode_cursor, encode_cursor
from ..store import Store, utcnow

MANIFEST = "datadive-project.json"
ROLES = ("viewer", "editor", "owner")
RANK = {role: i for i, role in enumerate(ROLES)}
REFIND_MAX_DIRS = 2000
REFIND_MAX_DEPTH = 6
NOTEBOOK_LIST_MAX_DEPTH = 8
FOLDER_CHECK_TTL = 2.0
# Bidirectional-text embeddings, overrides and isolates: they make a name display as
# something else than it is ("report\u202egnp.ipynb" shows as "reportbnypi.png").
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].strip("-")
    return slug or "project"


def check_relative_path(path: str, where: str) -> str:
    """A clean relative path inside a folder: no '..', no absolute, no hidden segment, no NUL or backslash."""
    problem = None
    if not isinstance(path, str) or not path.strip():
        problem = "must be a non-empty path"
    elif "\x00" in path or "\\" in path or any(ord(c) < 32 for c in path):
        problem = "must not contain control characters or backslashes"
    elif path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        problem = "must be relative"
    else:
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            problem = "must not contain empty, '.' or '..' segments"
        elif any(p.startswith(".") for p in parts):
            problem = "must not contain hidden segments"
        elif len(path) > 1024 or any(len(p.encode("utf-8")) > 255 for p in parts):
            problem = "is too long (at most 255 bytes a segment)"
    if problem:
        raise Invalid(f"invalid path: {problem}", [{"path": where, "message": problem}], code="invalid_path")
    return path


def name_problem(name: str, *, notebook: bool) -> str | None:
    """Why a new project or notebook name is refused beyond the other rules, or None.

    Both refuse bidirectional-text controls (U+202A-U+202E, U+2066-U+2069), which
    make a name display as something else than it is. A notebook name, a path in
    the project, also refuses segments that read as '.' or '..', or as hidden, once
    NFKC-normalised (fullwidth dots such as U+FF0E; a fullwidth solidus separates
    segments then). Project names stay display text (their folder is an ASCII
    slug), so '..' is a valid project name. Applied where a name is given (create,
    rename), not to paths of files that exist already.
    """
    if any(c in BIDI_CONTROLS for c in name):
        return "must not contain bidirectional-text controls (U+202A-U+202E, U+2066-U+2069)"
    if notebook:
        parts = re.split(r"[/\\]", unicodedata.normalize("NFKC", name))
        if any(p in (".", "..") for p in parts):
            return "must not contain a segment that reads as '.' or '..' once normalised (NFKC), such as fullwidth dots"
        if any(p.startswith(".") for p in parts):
            return "must not contain a segment that reads as hidden once normalised (NFKC), such as one starting with a fullwidth dot"
    return None


def check_project_name(name: str) -> str:
    problem = name_problem(name, notebook=False)
    if problem:
        raise Invalid(f"invalid project name: {problem}", [{"path": "/name", "message": problem}])
    return name


def check_notebook_name(name: str) -> str:
    """A new notebook name: a clean relative path (``check_relative_path``) and ``name_problem``."""
    check_relative_path(name, "/name")
    problem = name_problem(name, notebook=True)
    if problem:
        raise Invalid(f"invalid path: {problem}", [{"path": "/name", "message": problem}], code="invalid_path")
    return name


def _project_view(row: dict, role: str, status: str = "ok") -> dict:
    return {
        "id": row["id"], "name": row["name"], "description": row["description"], "path": row["path"],
        "owner": row["owner"], "role": role, "status": status,
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


class ProjectService:
    def __init__(self, store: Store, contents_manager, kernel_spec_manager=None, projects_dir: str = "projects", log=None,
                 kernel_manager=None, *, journal: Journal | None = None):
        self.store = store
        self.journal = journal or Journal(store, log)
        self.cm = contents_manager
        self.ksm = kernel_spec_manager
        self.km = kernel_manager
        self.projects_dir = projects_dir.strip("/")
        self.log = log
        self._create_lock = asyncio.Lock()  # choosing a free folder name and taking it is one step
        self._checked: dict[str, tuple[str, float]] = {}  # pid -> (path, when its folder was last verified)

    # -- access ------------------------------------------------------------------

    def _row(self, pid: str) -> dict | None:
        return self.store.one("SELECT * FROM projects WHERE id = ?", [pid])

    def role_of(self, pid: str, user: str) -> str | None:
        row = self.store.one("SELECT role FROM members WHERE project_id = ? AND user = ?", [pid, user])
        return row["role"] if row else None

    def require(self, pid: str, user: str, needed: str = "viewer") -> tuple[dict, str]:
        """The project row and the user's role; 404 for strangers, 403 for too low a role."""
        row = self._row(pid) if isinstance(pid, str) else None
        role = self.role_of(pid, user) if row else None
        if role is None:
            raise NotFound(f"no project {pid!r}", code="project_not_found")
        if RANK[role] < RANK[needed]:
            raise Forbidden(f"this needs the {needed} role in the project; you are {role}", code="role_required")
        return row, role

    # -- folders -------------------------------------------------------------------

    async def _dir_exists(self, path: str) -> bool:
        return bool(await ensure_async(self.cm.dir_exists(path)))

    async def _exists(self, path: str) -> bool:
        return bool(await ensure_async(self.cm.exists(path)))

    async def folder_status(self, row: dict) -> tuple[dict, str]:
        """Check the folder; re-find a moved one by its manifest. Returns (row, "ok" | "missing").

        The folder at the stored path is ours if its manifest names this project.
        Otherwise the contents are searched for the manifest; if it is nowhere, a
        folder at the stored path without any manifest is taken (and given one
        back), while one whose manifest names another project is not.
        """
        here = await self._dir_exists(row["path"])
        if here and await self._manifest_id(row["path"]) == row["id"]:
            return row, "ok"
        found = await self._refind(row["id"])
        if found is None:
            if here and not await self._exists(posixpath.join(row["path"], MANIFEST)):
                await self._write_manifest(row["path"], row["id"], row["name"])
                return row, "ok"
            return row, "missing"
        await self.store.write(self.store.execute, "UPDATE projects SET path = ?, updated_at = ? WHERE id = ?", [found, utcnow(), row["id"]])
        if self.log:
            self.log.info("datadive: project %s found again at %s", row["id"], found)
        return self._row(row["id"]), "ok"

    async def _manifest_id(self, folder: str) -> str | None:
        path = posixpath.join(folder, MANIFEST) if folder else MANIFEST
        try:
            model = await ensure_async(self.cm.get(path, content=True, type="file", format="text"))
            return json.loads(model["content"]).get("id")
        except Exception:  # unreadable or foreign file: not a manifest of ours
            return None

    async def _refind(self, pid: str) -> str | None:
        """Breadth-first search of the contents root for the manifest naming ``pid`` (bounded)."""
        queue, seen = [("", 0)], 0
        while queue and seen < REFIND_MAX_DIRS:
            folder, depth = queue.pop(0)
            seen += 1
            try:
                listing = await ensure_async(self.cm.get(folder, content=True, type="directory"))
            except Exception:
                continue
            children = listing.get("content") or []
            if any(c["name"] == MANIFEST for c in children) and folder:
                if await self._manifest_id(folder) == pid:
                    known = self.store.one("SELECT id FROM projects WHERE path = ?", [folder])
                    if known is None or known["id"] == pid:
                        return folder
            if depth < REFIND_MAX_DEPTH:
                queue.extend((c["path"], depth + 1) for c in children if c["type"] == "directory")
        return None

    def follow_rename(self, old: str, new: str) -> int:
        """Re-point projects at or under ``old`` to ``new``, and the journal of notebooks there.

        Called on contents rename events; returns how many projects moved. This runs
        on the event loop (its caller is synchronous): ``follow_rename_async`` is the same
        off the loop.
        """
        old, new = old.strip("/"), new.strip("/")
        self._checked.clear()
        with self.store.transaction():
            return self._follow_rename(old, new)

    async def follow_rename_async(self, old: str, new: str) -> int:
        """``follow_rename`` with its transaction in the worker pool (a lock held by another process stalls nothing)."""
        old, new = old.strip("/"), new.strip("/")
        self._checked.clear()
        return await self.store.write(self._follow_rename, old, new)

    def _follow_rename(self, old: str, new: str) -> int:
        rows = self.store.query("SELECT id, path FROM projects WHERE path = ? OR substr(path, 1, ?) = ?", [old, len(old) + 1, old + "/"])
        for row in rows:
            moved = new + row["path"][len(old):]
            self.store.execute("UPDATE projects SET path = ?, updated_at = ? WHERE id = ?", [moved, utcnow(), row["id"]])
        self.journal.rename(old, new)
        return len(rows)

    # -- projects ------------------------------------------------------------------

    def list(self, user: str, *, q: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        sql = ["SELECT p.*, m.role FROM projects p JOIN members m ON m.project_id = p.id WHERE m.user = ?"]
        params: list = [user]
        if cursor:
            name, pid = decode_cursor(cursor, (str, str))
            sql.append("AND (p.name COLLATE NOCASE, p.id) > (?, ?)")
            params += [name, pid]
        if q:
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql.append("AND (p.name LIKE ? ESCAPE '\\' OR p.description LIKE ? ESCAPE '\\')")
            params += [like, like]
        sql.append("ORDER BY p.name COLLATE NOCASE, p.id LIMIT ?")
        params.append(limit + 1)
        rows = self.store.query(" ".join(sql), params)
        items = [_project_view(r, r["role"], "unknown") for r in rows[:limit]]
        next_cursor = encode_cursor([rows[limit - 1]["name"], rows[limit - 1]["id"]]) if len(rows) > limit else None
        return Page(items, next_cursor)

    async def get(self, pid: str, user: str) -> dict:
        row, role = self.require(pid, user)
        row, status = await self.folder_status(row)
        return _project_view(row, role, status)

    async def create(self, user: str, name: str, description: str = "") -> dict:
        check_project_name(name)
        async with self._create_lock:
            return await self._create(user, name, description)

    async def _create(self, user: str, name: str, description: str) -> dict:
        pid = uuid.uuid4().hex[:12]
        base = posixpath.join(self.projects_dir, slugify(name)) if self.projects_dir else slugify(name)
        path, n = base, 1
        while await self._exists(path) or self.store.one("SELECT 1 AS x FROM projects WHERE path = ?", [path]):
            n += 1
            path = f"{base}-{n}"
        if self.projects_dir and not await self._dir_exists(self.projects_dir):
            await self._mkdirs(self.projects_dir)
        await ensure_async(self.cm.save({"type": "directory"}, path))
        try:
            await self._write_manifest(path, pid, name)
            now = utcnow()

            def insert():
                self.store.db.insert("projects", {"id": pid, "name": name, "description": description, "path": path,
                                                  "owner": user, "created_at": now, "updated_at": now})
                self.store.db.insert("members", {"project_id": pid, "user": user, "role": "owner", "added_at": now})

            await self.store.write(insert)
        except BaseException:
            # A full disk or a locked database: leave no half-made project folder behind.
            try:
                await self._delete_tree(path)
            except Exception:  # the original error is the one to report
                self.log.warning("Datadive: could not remove the unfinished project folder %s", path, exc_info=True)
            raise
        return _project_view(self._row(pid), "owner")

    async def _write_manifest(self, folder: str, pid: str, name: str) -> None:
        manifest = {"type": "file", "format": "text", "content": json.dumps({"id": pid, "name": name}, indent=1) + "\n"}
        await ensure_async(self.cm.save(manifest, posixpath.join(folder, MANIFEST)))

    async def _mkdirs(self, path: str) -> None:
        current = ""
        for part in path.split("/"):
            current = posixpath.join(current, part) if current else part
            if not await self._dir_exists(current):
                await ensure_async(self.cm.save({"type": "directory"}, current))

    async def update(self, pid: str, user: str, changes: dict) -> dict:
        if "name" in changes:
            check_project_name(changes["name"])
        self.require(pid, user, "owner")
        fields = {k: changes[k] for k in ("name", "description") if k in changes}
        if fields:
            fields["updated_at"] = utcnow()
            sql = "UPDATE projects SET " + ", ".join(f"{k} = ?" for k in fields) + " WHERE id = ?"
            await self.store.write(self.store.execute, sql, [*fields.values(), pid])
        return await self.get(pid, user)

    async def delete(self, pid: str, user: str, delete_files: bool = False) -> None:
        row, _ = self.require(pid, user, "owner")
        if delete_files:
            row, status = await self.folder_status(row)
            if status == "ok":
                await self._delete_tree(row["path"])
        await self.store.write(self.store.execute, "DELETE FROM projects WHERE id = ?", [pid])

    async def _delete_tree(self, path: str) -> None:
        """Delete a folder through the contents manager: at once if it allows, else bottom-up."""
        try:
            await ensure_async(self.cm.delete(path))
            return
        except Exception as exc:
            if getattr(exc, "status_code", None) != 400:  # 400: "directory not empty" without a trash
                raise
        listing = await ensure_async(self.cm.get(path, content=True, type="directory"))
        for child in listing.get("content") or []:
            if child["type"] == "directory":
                await self._delete_tree(child["path"])
            else:
                await ensure_async(self.cm.delete(child["path"]))
        try:
            await ensure_async(self.cm.delete(path))
        except Exception as exc:
            if getattr(exc, "status_code", None) == 400:
                raise Conflict(f"the folder {path} holds hidden files; the project was not deleted", code="folder_not_empty") from None
            raise

    # -- members -------------------------------------------------------------------

    def members(self, pid: str, user: str) -> list[dict]:
        self.require(pid, user)
        return self.store.query("SELECT user, role, added_at FROM members WHERE project_id = ? ORDER BY user", [pid])

    async def set_member(self, pid: str, user: str, member: str, role: str) -> dict:
        self.require(pid, user, "owner")
        current = self.role_of(pid, member)
        if current == "owner" and role != "owner":
            self._keep_an_owner(pid, member)
        await self.store.write(
            self.store.execute,
            "INSERT INTO members (project_id, user, role, added_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (project_id, user) DO UPDATE SET role = excluded.role",
            [pid, member, role, utcnow()],
        )
        return self.store.one("SELECT user, role, added_at FROM members WHERE project_id = ? AND user = ?", [pid, member])

    async def remove_member(self, pid: str, user: str, member: str) -> None:
        self.require(pid, user, "owner")
        current = self.role_of(pid, member)
        if current is None:
            raise NotFound(f"{member!r} is not a member of this project", code="member_not_found")
        if current == "owner":
            self._keep_an_owner(pid, member)
        await self.store.write(self.store.execute, "DELETE FROM members WHERE project_id = ? AND user = ?", [pid, member])

    def _keep_an_owner(self, pid: str, leaving: str) -> None:
        owners = self.store.query("SELECT user FROM members WHERE project_id = ? AND role = 'owner'", [pid])
        if [o["user"] for o in owners] == [leaving]:
            raise Conflict("a project must keep at least one owner", [{"path": "/role", "message": "last owner"}], code="last_owner")

    # -- notebooks -------------------------------------------------------------------

    async def folder(self, pid: str, user: str, needed: str) -> tuple[dict, str]:
        """The project's row and the user's role, its folder checked.

        The folder must exist at every call; its manifest is read again at most
        every FOLDER_CHECK_TTL seconds (renames through the server update the path
        at once from the contents events; moves behind the server's back leave no
        folder at the old path, which sends this to the full check).
        """
        row, role = self.require(pid, user, needed)
        checked = self._checked.get(pid)
        now = time.monotonic()
        if checked and checked[0] == row["path"] and now - checked[1] < FOLDER_CHECK_TTL and await self._dir_exists(row["path"]):
            return row, role
        row, status = await self.folder_status(row)
        if status == "ok":
            self._checked[pid] = (row["path"], now)
        if status != "ok":
            raise Conflict(f"the folder of project {row['name']!r} ({row['path']}) no longer exists", code="project_folder_missing")
        return row, role


    def notebook_path(self, row: dict, nb: str, where: str = "/nb") -> str:
        check_relative_path(nb, where)
        return posixpath.join(row["path"], nb)

    @staticmethod
    def _notebook_view(model: dict, project_path: str) -> dict:
        return {
            "path": model["path"][len(project_path) + 1:],
            "name": model["name"],
            "last_modified": str(model.get("last_modified")),
            "created": str(model.get("created")),
        }

    async def notebooks(self, pid: str, user: str) -> list[dict]:
        row, _ = await self.folder(pid, user, "viewer")
        found, queue = [], [(row["path"], 0)]
        while queue:
            folder, depth = queue.pop(0)
            listing = await ensure_async(self.cm.get(folder, content=True, type="directory"))
            for child in sorted(listing.get("content") or [], key=lambda c: c["name"]):
                if child["type"] == "notebook":
                    found.append(self._notebook_view(child, row["path"]))
                elif child["type"] == "directory" and depth < NOTEBOOK_LIST_MAX_DEPTH:
                    queue.append((child["path"], depth + 1))
        return sorted(found, key=lambda n: n["path"])

    async def notebook(self, pid: str, user: str, nb: str) -> dict:
        row, _ = await self.folder(pid, user, "viewer")
        path = self.notebook_path(row, nb)
        if not await self.is_notebook(path):
            raise NotFound(f"no notebook {nb!r} in this project", code="notebook_not_found")
        model = await ensure_async(self.cm.get(path, content=False))
        return self._notebook_view(model, row["path"])

    async def file_exists(self, path: str) -> bool:
        return bool(await ensure_async(self.cm.file_exists(path)))

    def os_path(self, path: str) -> str | None:
        """The file system path of a contents path, for contents managers that keep files on disk."""
        get = getattr(self.cm, "_get_os_path", None)
        return get(path) if get else None

    async def is_notebook(self, path: str) -> bool:
        """Whether ``path`` (a contents path) is a notebook file that exists."""
        return path.endswith(".ipynb") and bool(await ensure_async(self.cm.file_exists(path)))

    def new_notebook(self) -> nbformat.NotebookNode:
        """An empty notebook for the server's default kernel."""
        nb = nbformat.v4.new_notebook()
        if self.ksm is not None:
            name = getattr(self.km, "default_kernel_name", None) or "python3"
            try:
                spec = self.ksm.get_kernel_spec(name)
                nb.metadata["kernelspec"] = {"name": name, "display_name": spec.display_name, "language": spec.language}
                nb.metadata["language_info"] = {"name": spec.language}
            except Exception:
                nb.metadata["kernelspec"] = {"name": name, "display_name": name, "language": "python"}
        return nb

    @staticmethod
    def _ipynb(name: str) -> str:
        return name if name.endswith(".ipynb") else name + ".ipynb"

    async def _check_parents(self, row: dict, rel: str) -> None:
        """Every folder on the way to ``rel`` is a folder or not there yet."""
        current = row["path"]
        for part in rel.split("/")[:-1]:
            current = posixpath.join(current, part)
            if await self._exists(current) and not await self._dir_exists(current):
                raise Invalid(f"{current[len(row['path']) + 1:]!r} is a file, not a folder", [{"path": "/name", "message": "a parent is a file"}], code="invalid_path")

    async def _contents_call(self, fn, *args):
        """A contents-manager write; its refusals become client errors that name no server path."""
        try:
            return await ensure_async(fn(*args))
        except Exception as exc:
            mapped = environment_error(exc)
            if mapped is not None:
                raise mapped from None
            if isinstance(exc, OSError):
                raise Invalid(f"the contents manager refused the name: {exc.strerror or 'invalid name'}", [{"path": "/name", "message": "cannot be used here"}], code="invalid_path") from None
            status = getattr(exc, "status_code", None)
            if status and 400 <= status < 500:
                raise Invalid("the contents manager refused the name", [{"path": "/name", "message": "cannot be used here"}], code="invalid_path") from None
            raise

    async def _free_notebook_path(self, row: dict, name: str) -> tuple[str, str]:
        """``(relative, full)`` path for a new notebook name: checked, free, its folders made."""
        rel = self._ipynb(check_notebook_name(name))
        check_relative_path(rel, "/name")
        path = posixpath.join(row["path"], rel)
        if await self._exists(path):
            raise Conflict(f"{rel!r} already exists in this project", [{"path": "/name", "message": "already exists"}], code="notebook_exists")
        await self._check_parents(row, rel)
        parent = posixpath.dirname(path)
        if parent != row["path"] and not await self._dir_exists(parent):
            await self._contents_call(self._mkdirs, parent)
        return rel, path

    async def create_notebook(self, pid: str, user: str, name: str) -> dict:
        row, _ = await self.folder(pid, user, "editor")
        rel, path = await self._free_notebook_path(row, name)
        try:
            await self._contents_call(self.cm.save, {"type": "notebook", "format": "json", "content": self.new_notebook()}, path)
        except BaseException:
            # The path was free: whatever a failed save left there (an empty file when the
            # disk filled up) is ours to remove, so the name stays free.
            try:
                if await self._exists(path):
                    await ensure_async(self.cm.delete(path))
            except Exception:
                self.log.warning("Datadive: could not remove the unfinished notebook %s", path, exc_info=True)
            raise
        return await self.notebook(pid, user, rel)

    async def create_notebook_from_template(self, pid: str, user: str, nbtemplates, template_id: str, parameters=None,
                                            name: str | None = None) -> dict:
        """A notebook made from a notebook template (``NotebookTemplateService``) in the project's folder.

        The editor role is checked first. With ``name`` the notebook is created at that
        path (409 ``notebook_exists`` if taken); without, its name comes from the
        template's file name and the parameters, made unique (``-1``, ``-2``...).
        """
        row, _ = await self.folder(pid, user, "editor")
        path = await nbtemplates.create(template_id, {} if parameters is None else parameters, folder=row["path"], name=name,
                                        unique=name is None)
        return await self.notebook(pid, user, path[len(row["path"]) + 1:])

    async def rename_notebook(self, pid: str, user: str, nb: str, new_name: str) -> dict:
        row, _ = await self.folder(pid, user, "editor")
        old = self.notebook_path(row, nb)
        if not await self.is_notebook(old):
            raise NotFound(f"no notebook {nb!r} in this project", code="notebook_not_found")
        rel = self._ipynb(check_notebook_name(new_name))
        if posixpath.join(row["path"], rel) != old:
            rel, new = await self._free_notebook_path(row, new_name)
            await self._contents_call(self.cm.rename, old, new)
            await self.store.write(self.journal.rename, old, new)
        return await self.notebook(pid, user, rel)

    async def delete_notebook(self, pid: str, user: str, nb: str) -> None:
        row, _ = await self.folder(pid, user, "editor")
        path = self.notebook_path(row, nb)
        if not await self.is_notebook(path):
            raise NotFound(f"no notebook {nb!r} in this project", code="notebook_not_found")
        await ensure_async(self.cm.delete(path))
