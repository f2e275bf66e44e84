"""The ``datadive`` command line: the Datadive REST API from a shell.

Built with click (commands and options; a stable API with no dependencies of its own)
and rich (tables). Subcommands mirror the API: ``projects``, ``notebooks``, ``cells``,
``templates``, ``profile``, ``suggest``, ``run`` and ``openapi``. Output is a table, or
the API's JSON with ``--json`` (before or after the subcommand). Errors print the
server's message, code and every ``path: message`` to stderr and exit with the error's
code (``EXIT_CODES``; docs/client.md).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .core import DEFAULT_TIMEOUT, RUN_FINISHED, DatadiveClient, Tagged, file_source, kernel_source
from .errors import DatadiveError, NotFound

# Exit codes (each error class has its ``exit_code``).
EXIT_CODES = {
    0: "success",
    1: "any other error: 5xx, a local file that cannot be read or written, an import whose failures differ in kind",
    2: "usage error: a missing or bad option, no server URL",
    3: "server unreachable (ServerUnreachable)",
    4: "400 bad request (BadRequest)",
    5: "401/403 forbidden (Forbidden)",
    6: "404 not found (NotFound)",
    7: "409 conflict (Conflict, CellEdited)",
    8: "412 stale or missing If-Match (PreconditionFailed)",
    9: "413 too large (TooLarge)",
    10: "503 unavailable / 504 kernel timeout (Unavailable, KernelTimeout)",
    11: "507 storage full (StorageFull)",
    12: "the route is not on this server (NotAvailable): runs, on a server older than them",
}

TEMPLATE_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")  # template.schema.json's id pattern: a safe file name
RUN_DONE = RUN_FINISHED  # the statuses of a run that has ended


class CliError(Exception):
    """A local problem (a file, a value): reported like a server error; exit code 1 unless said."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass
class State:
    url: Optional[str] = None
    token: Optional[str] = None
    timeout: Optional[float] = DEFAULT_TIMEOUT
    json: bool = False
    _client: Optional[DatadiveClient] = field(default=None, repr=False)

    def client(self) -> DatadiveClient:
        if self._client is None:
            if not self.url:
                raise click.UsageError("no server URL: pass --url or set DATADIVE_URL (e.g. http://localhost:8888/)")
            try:
                self._client = DatadiveClient(self.url, self.token or "", timeout=self.timeout)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from exc
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _state(ctx: click.Context, as_json: bool = False) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    if as_json:
        root.obj.json = True
    return root.obj


class DatadiveGroup(click.Group):
    """The root group: the client's errors become a message on stderr and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (DatadiveError, CliError) as exc:
            _report(ctx, exc)
            ctx.exit(exc.exit_code)
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.close()


def _report(ctx, exc) -> None:
    state = ctx.obj if isinstance(ctx.obj, State) else State()
    if state.json:
        body = {"status": getattr(exc, "status", None), "code": getattr(exc, "code", "client_error"), "message": exc.message,
                "reason": getattr(exc, "reason", ""), "errors": getattr(exc, "errors", [])}
        click.echo(json.dumps(body, ensure_ascii=False), err=True)
        return
    if isinstance(exc, DatadiveError):
        where = f"{exc.status} {exc.code}" if exc.status is not None else exc.code
        click.echo(f"datadive: error ({where}): {exc.message}", err=True)
        for e in exc.errors:
            click.echo(f"  {_path(e)}: {e.get('message', '')}", err=True)
        retry = getattr(exc, "retry_after", None)
        if retry is not None:
            click.echo(f"  retry after {retry:g} s", err=True)
    else:
        click.echo(f"datadive: error: {exc.message}", err=True)


def _path(error: dict) -> str:
    """An error's JSON pointer as printed; the empty pointer (the whole request) as ``(request)``."""
    return error.get("path") or "(request)"


# -- output ----------------------------------------------------------------------------


def _console() -> Console:
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:  # a pipe or a file: wide enough that ids are not folded
        console = Console(highlight=False, soft_wrap=False, width=200)
    return console


def _cell(value) -> Text:
    """A table cell: plain text (never rich markup: names may hold brackets)."""
    if value is None:
        return Text("")
    if isinstance(value, (dict, list)):
        return Text(json.dumps(value, ensure_ascii=False))
    return Text(str(value))


def _first_line(text, width=60) -> str:
    line = (text or "").split("\n", 1)[0]
    return (line[:width] + " …") if ("\n" in (text or "") or len(line) > width) else line


def table(title: Optional[str], items, columns) -> Table:
    """A table of ``items``: ``columns`` is a list of ``(header, key or function of the item)``."""
    t = Table(title=title, title_justify="left")
    for header, _ in columns:
        t.add_column(header, overflow="fold")
    for item in items:
        t.add_row(*(_cell(get(item) if callable(get) else (item.get(get) if isinstance(item, dict) else None))
                    for _, get in columns))
    return t


def record(title: Optional[str], obj: dict, keys=None) -> Table:
    """One object as a two-column table (field, value)."""
    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    for key in keys or list(obj):
        if key in obj:
            t.add_row(Text(key), _cell(obj[key]))
    return t


def emit(state: State, data, render=None) -> None:
    """The result: the API's JSON with --json, else ``render(data)`` (one renderable or a list) on a console."""
    if state.json:
        if data is not None:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    out = render(data) if render is not None else None
    if out is None:
        return
    console = _console()
    for piece in out if isinstance(out, (list, tuple)) else [out]:
        console.print(piece)


def unpack(answer: Tagged):
    """The data of an ETag answer; the ETag goes to stderr (stdout stays the result alone)."""
    if answer.etag:
        click.echo(f"ETag: {answer.etag}", err=True)
    return answer.data


def done(state: State, message: str) -> None:
    if not state.json:
        click.echo(message)


# -- values from the command line --------------------------------------------------------


def read_text(value: str) -> str:
    """``-`` is stdin; anything else is the text itself."""
    return sys.stdin.read() if value == "-" else value


def read_json(value: str, what: str):
    """JSON text, ``@FILE`` (a file) or ``-`` (stdin)."""
    try:
        if value == "-":
            text = sys.stdin.read()
        elif value.startswith("@"):
            text = Path(value[1:]).expanduser().read_text(encoding="utf-8")
        else:
            text = value
        return json.loads(text)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {value[1:]!r}: {exc.strerror or exc}", param_hint=what) from exc
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=what) from exc


def parse_value(text: str):
    """A ``name=value`` value: JSON when it parses (``3``, ``true``, ``["a"]``), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def collect_inputs(inputs: Optional[str], pairs, what: str = "--inputs", pair_opt: str = "--input") -> Optional[dict]:
    """``--inputs JSON`` and ``-i name=value`` pairs (which win) as one object, or None when neither was given."""
    values = None
    if inputs is not None:
        values = read_json(inputs, what)
        if not isinstance(values, dict):
            raise click.BadParameter("must be a JSON object", param_hint=what)
    for pair in pairs or ():
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not name=value", param_hint=pair_opt)
        values = values if values is not None else {}
        values[name] = parse_value(raw)
    return values


def load_document(path: str, named: bool = True) -> dict:
    """A template document from a file (``-``: stdin); ``named``: the messages start with the path."""
    where = f"{path}: " if named else ""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).expanduser().read_text(encoding="utf-8")
        doc = json.loads(text)
    except OSError as exc:
        raise CliError(f"cannot read {path!r}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CliError(f"{where}not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise CliError(f"{where}a template document is a JSON object")
    return doc


def _take(iterator, limit):
    out = []
    for item in iterator:
        if limit is not None and len(out) >= limit:
            break
        out.append(item)
    return out


def _page_size(limit):
    return min(limit, 500) if limit else None


# -- shared options ----------------------------------------------------------------------

json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of a table.")
if_match_option = click.option("--if-match", help="The notebook's ETag from an earlier answer: refused (412) if it changed since.")
inputs_option = click.option("--inputs", help="Template inputs: a JSON object, @FILE or - (stdin).")
input_option = click.option("--input", "-i", "pairs", multiple=True, metavar="NAME=VALUE",
                            help="One input (the value is JSON when it parses, else a string); repeatable.")
limit_option = click.option("--limit", type=click.IntRange(min=1), help="At most this many items (default: all, page after page).")
PID = click.argument("pid")
NB = click.argument("nb")
CELL = click.argument("cell_id")


@click.group(cls=DatadiveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="DATADIVE_URL", show_envvar=True, help="The server's URL with its base_url, e.g. http://localhost:8888/.")
@click.option("--token", envvar=["DATADIVE_TOKEN", "JUPYTERHUB_API_TOKEN"], show_envvar=True,
              help="API token (env DATADIVE_TOKEN, else JUPYTERHUB_API_TOKEN).")
@click.option("--timeout", type=click.FloatRange(min=0), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds to wait for each answer (0: for ever).")
@json_option
@click.version_option(package_name="datadive", prog_name="datadive")
@click.pass_context
def cli(ctx, url, token, timeout, as_json):
    """Datadive from the command line: projects, notebooks, cells, templates, the assistant and runs.

    Server URL and token come from --url / --token or DATADIVE_URL / DATADIVE_TOKEN
    (JUPYTERHUB_API_TOKEN when set). Exit codes: 0 success, 2 usage, 3 unreachable,
    4 invalid (400), 5 forbidden, 6 not found, 7 conflict, 8 stale If-Match, 9 too
    large, 10 unavailable/timeout, 11 storage full, 12 not on this server, 1 other.
    """
    ctx.obj = State(url=url, token=token, timeout=timeout or None, json=as_json)


# -- projects --------------------------------------------------------------------------

PROJECT_COLUMNS = [("id", "id"), ("name", "name"), ("role", "role"), ("owner", "owner"), ("path", "path"), ("updated", "updated_at")]
PROJECT_FIELDS = ["id", "name", "description", "path", "owner", "role", "status", "created_at", "updated_at"]


@cli.group("projects")
def projects_group():
    """Projects and their members."""


@projects_group.command("list")
@click.option("--query", "-q", help="Text in the name or description.")
@limit_option
@json_option
@click.pass_context
def projects_list(ctx, query, limit, as_json):
    """The projects you may see."""
    state = _state(ctx, as_json)
    items = _take(state.client().iter_projects(query, page_size=_page_size(limit)), limit)
    emit(state, items, lambda d: table(f"{len(d)} project(s)", d, PROJECT_COLUMNS))


@projects_group.command("show")
@PID
@json_option
@click.pass_context
def projects_show(ctx, pid, as_json):
    """One project."""
    state = _state(ctx, as_json)
    emit(state, state.client().get_project(pid), lambda d: record(None, d, PROJECT_FIELDS))


@projects_group.command("create")
@click.argument("name")
@click.option("--description", "-d", help="What the project is about.")
@json_option
@click.pass_context
def projects_create(ctx, name, description, as_json):
    """A new project (and its folder)."""
    state = _state(ctx, as_json)
    emit(state, state.client().create_project(name, description), lambda d: record("created", d, PROJECT_FIELDS))


@projects_group.command("rename")
@PID
@click.argument("name")
@click.option("--description", "-d", help="Also a new description.")
@json_option
@click.pass_context
def projects_rename(ctx, pid, name, description, as_json):
    """Rename a project (its folder keeps its path)."""
    state = _state(ctx, as_json)
    emit(state, state.client().update_project(pid, name=name, description=description), lambda d: record("renamed", d, PROJECT_FIELDS))


@projects_group.command("delete")
@PID
@click.option("--delete-files", is_flag=True, help="Also delete the project's folder.")
@json_option
@click.pass_context
def projects_delete(ctx, pid, delete_files, as_json):
    """Delete a project (its folder stays unless --delete-files)."""
    state = _state(ctx, as_json)
    state.client().delete_project(pid, delete_files=delete_files)
    done(state, f"deleted project {pid}" + (" and its folder" if delete_files else ""))


@projects_group.command("members")
@PID
@json_option
@click.pass_context
def projects_members(ctx, pid, as_json):
    """The members of a project."""
    state = _state(ctx, as_json)
    emit(state, state.client().list_members(pid),
         lambda d: table(None, d["items"], [("user", "user"), ("role", "role"), ("added", "added_at")]))


@projects_group.command("add-member")
@PID
@click.argument("user")
@click.option("--role", "-r", type=click.Choice(["owner", "editor", "viewer"]), default="editor", show_default=True)
@json_option
@click.pass_context
def projects_add_member(ctx, pid, user, role, as_json):
    """Add a member, or change a member's role."""
    state = _state(ctx, as_json)
    emit(state, state.client().set_member(pid, user, role), lambda d: record(None, d))


@projects_group.command("remove-member")
@PID
@click.argument("user")
@json_option
@click.pass_context
def projects_remove_member(ctx, pid, user, as_json):
    """Remove a member."""
    state = _state(ctx, as_json)
    state.client().remove_member(pid, user)
    done(state, f"removed {user} from {pid}")


# -- notebooks (NB: the notebook's path inside the project) ------------------------------

NOTEBOOK_COLUMNS = [("path", "path"), ("name", "name"), ("modified", "last_modified")]


@cli.group("notebooks")
def notebooks_group():
    """Notebooks of a project (NB: the path inside the project, a/b.ipynb)."""


@notebooks_group.command("list")
@PID
@json_option
@click.pass_context
def notebooks_list(ctx, pid, as_json):
    """The notebooks of a project."""
    state = _state(ctx, as_json)
    emit(state, state.client().list_notebooks(pid), lambda d: table(None, d["items"], NOTEBOOK_COLUMNS))


@notebooks_group.command("show")
@PID
@NB
@json_option
@click.pass_context
def notebooks_show(ctx, pid, nb, as_json):
    """One notebook."""
    state = _state(ctx, as_json)
    emit(state, state.client().get_notebook(pid, nb), lambda d: record(None, d))


@notebooks_group.command("create")
@PID
@click.argument("name", required=False)
@click.option("--from-template", "from_template", metavar="ID",
              help="Make it from this notebook template (see: templates list --kind notebook).")
@click.option("--parameter", "-P", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A parameter of the notebook template (the value is JSON when it parses); repeatable.")
@click.option("--parameters", help="Every parameter as a JSON object (@FILE, - : stdin).")
@json_option
@click.pass_context
def notebooks_create(ctx, pid, name, from_template, pairs, parameters, as_json):
    """A new notebook: empty, or made from a notebook template with parameters.

    NAME is its path inside the project (.ipynb is added); with --from-template it may
    be left out, and the template's file name (its {param} placeholders filled) is used.
    """
    state = _state(ctx, as_json)
    values = collect_inputs(parameters, pairs, "--parameters", "--parameter")
    if from_template is None and (name is None or values is not None):
        raise click.UsageError("give NAME (an empty notebook), or --from-template with its parameters")
    answer = state.client().create_notebook(pid, name, from_template=from_template, parameters=values)
    emit(state, answer, lambda d: record("created", d))


@notebooks_group.command("rename")
@PID
@NB
@click.argument("name")
@json_option
@click.pass_context
def notebooks_rename(ctx, pid, nb, name, as_json):
    """Rename (move) a notebook inside its project."""
    state = _state(ctx, as_json)
    emit(state, state.client().rename_notebook(pid, nb, name), lambda d: record("renamed", d))


@notebooks_group.command("delete")
@PID
@NB
@json_option
@click.pass_context
def notebooks_delete(ctx, pid, nb, as_json):
    """Delete a notebook."""
    state = _state(ctx, as_json)
    state.client().delete_notebook(pid, nb)
    done(state, f"deleted {nb}")


# -- cells -----------------------------------------------------------------------------


def _template_ref(cell):
    if not cell.get("template"):
        return ""
    return f"{cell['template']}@{cell['version']}" if cell.get("version") else cell["template"]


CELL_COLUMNS = [("#", "index"), ("id", "id"), ("type", "cell_type"), ("state", "state"), ("template", _template_ref),
                ("source", lambda c: _first_line(c.get("source")))]
CELL_FIELDS = ["index", "id", "cell_type", "state", "template", "version", "inputs", "source", "execution_count", "outputs"]


def _cells_table(title):
    return lambda d: table(title, d["cells"], CELL_COLUMNS)


def _one_position(index, after, before, required=False) -> dict:
    given = {k: v for k, v in {"index": index, "after": after, "before": before}.items() if v is not None}
    if len(given) > 1 or (required and not given):
        raise click.UsageError("give one of --index, --after or --before" if required else "give at most one of --index, --after or --before")
    return given


def position_options(verb):
    def wrap(f):
        f = click.option("--before", help=f"{verb} before this cell id.")(f)
        f = click.option("--after", help=f"{verb} after this cell id.")(f)
        return click.option("--index", type=click.IntRange(min=0), help=f"{verb} at this index.")(f)
    return wrap


@cli.group("cells")
def cells_group():
    """Cells of a notebook: insert from templates, regenerate, upgrade, move, undo.

    Every answer's ETag is printed to stderr; pass it back with --if-match to refuse
    a write (412) when the notebook changed since.
    """


@cells_group.command("list")
@PID
@NB
@json_option
@click.pass_context
def cells_list(ctx, pid, nb, as_json):
    """The cells of a notebook, with their template state."""
    state = _state(ctx, as_json)
    emit(state, unpack(state.client().list_cells(pid, nb)), _cells_table(None))


@cells_group.command("show")
@PID
@NB
@CELL
@json_option
@click.pass_context
def cells_show(ctx, pid, nb, cell_id, as_json):
    """One cell, with its outputs."""
    state = _state(ctx, as_json)
    emit(state, unpack(state.client().get_cell(pid, nb, cell_id)), lambda d: record(None, d, CELL_FIELDS))


@cells_group.command("insert")
@PID
@NB
@click.option("--template", "-t", help="Insert the cells of this template.")
@click.option("--version", type=click.IntRange(min=1), help="The template's version (default: the latest).")
@inputs_option
@input_option
@click.option("--code", help="Insert one code cell with this source (- : stdin).")
@click.option("--markdown", help="Insert one markdown cell (- : stdin).")
@click.option("--raw", help="Insert one raw cell (- : stdin).")
@position_options("Insert")
@if_match_option
@json_option
@click.pass_context
def cells_insert(ctx, pid, nb, template, version, inputs, pairs, code, markdown, raw, index, after, before, if_match, as_json):
    """Insert the cells of a template (--template with --inputs / -i), or one plain cell (--code / --markdown / --raw)."""
    state = _state(ctx, as_json)
    kinds = {k: v for k, v in {"template": template, "code": code, "markdown": markdown, "raw": raw}.items() if v is not None}
    if len(kinds) != 1:
        raise click.UsageError("give exactly one of --template, --code, --markdown or --raw")
    position = _one_position(index, after, before)
    if template is not None:
        answer = state.client().insert_cells(pid, nb, template=template, version=version,
                                             inputs=collect_inputs(inputs, pairs) or {}, if_match=if_match, **position)
    else:
        ((cell_type, source),) = kinds.items()
        answer = state.client().insert_cells(pid, nb, cell_type=cell_type, source=read_text(source), if_match=if_match, **position)
    emit(state, unpack(answer), _cells_table("inserted"))


@cells_group.command("update")
@PID
@NB
@CELL
@click.option("--source", "-s", required=True, help="The new source (- : stdin).")
@if_match_option
@json_option
@click.pass_context
def cells_update(ctx, pid, nb, cell_id, source, if_match, as_json):
    """Edit a cell's source (a generated cell becomes 'edited')."""
    state = _state(ctx, as_json)
    answer = state.client().edit_cell(pid, nb, cell_id, read_text(source), if_match=if_match)
    emit(state, unpack(answer), lambda d: record("updated", d, CELL_FIELDS))


@cells_group.command("regenerate")
@PID
@NB
@CELL
@inputs_option
@input_option
@click.option("--force", is_flag=True, help="Also over a cell edited by hand.")
@if_match_option
@json_option
@click.pass_context
def cells_regenerate(ctx, pid, nb, cell_id, inputs, pairs, force, if_match, as_json):
    """Generate a template cell again from new inputs (409 cell_edited if edited by hand, unless --force)."""
    state = _state(ctx, as_json)
    values = collect_inputs(inputs, pairs)
    if values is None:
        raise click.UsageError("give the new inputs with --inputs or -i NAME=VALUE")
    answer = state.client().regenerate_cell(pid, nb, cell_id, values, force=force, if_match=if_match)
    emit(state, unpack(answer), lambda d: record("regenerated", d, CELL_FIELDS))


@cells_group.command("upgrade")
@PID
@NB
@CELL
@click.option("--to", "to", default="latest", show_default=True, help="'latest' or a version number.")
@inputs_option
@input_option
@click.option("--force", is_flag=True, help="Also over a cell edited by hand.")
@if_match_option
@json_option
@click.pass_context
def cells_upgrade(ctx, pid, nb, cell_id, to, inputs, pairs, force, if_match, as_json):
    """Move a generated cell to another version of its template (default: the latest)."""
    state = _state(ctx, as_json)
    if to != "latest":
        try:
            to = int(to)
        except ValueError:
            raise click.BadParameter("must be 'latest' or a version number", param_hint="--to") from None
    answer = state.client().upgrade_cell(pid, nb, cell_id, to, inputs=collect_inputs(inputs, pairs), force=force, if_match=if_match)
    emit(state, unpack(answer), lambda d: record("upgraded", d, CELL_FIELDS))


@cells_group.command("delete")
@PID
@NB
@CELL
@if_match_option
@json_option
@click.pass_context
def cells_delete(ctx, pid, nb, cell_id, if_match, as_json):
    """Delete a cell."""
    state = _state(ctx, as_json)
    unpack(state.client().delete_cell(pid, nb, cell_id, if_match=if_match))
    done(state, f"deleted cell {cell_id}")


@cells_group.command("move")
@PID
@NB
@CELL
@position_options("Move")
@if_match_option
@json_option
@click.pass_context
def cells_move(ctx, pid, nb, cell_id, index, after, before, if_match, as_json):
    """Move a cell (one of --index, --after, --before)."""
    state = _state(ctx, as_json)
    answer = state.client().move_cell(pid, nb, cell_id, if_match=if_match, **_one_position(index, after, before, required=True))
    emit(state, unpack(answer), lambda d: record("moved", d, CELL_FIELDS))


@cells_group.command("order")
@PID
@NB
@click.argument("order", nargs=-1, required=True)
@if_match_option
@json_option
@click.pass_context
def cells_order(ctx, pid, nb, order, if_match, as_json):
    """Put the cells in a new order: ORDER is every cell id (a full permutation)."""
    state = _state(ctx, as_json)
    emit(state, unpack(state.client().reorder_cells(pid, nb, list(order), if_match=if_match)), _cells_table("reordered"))


@cells_group.command("history")
@PID
@NB
@limit_option
@json_option
@click.pass_context
def cells_history(ctx, pid, nb, limit, as_json):
    """The notebook's cell operations, newest first."""
    state = _state(ctx, as_json)
    items = _take(state.client().iter_history(pid, nb, page_size=_page_size(limit)), limit)
    columns = [("id", "id"), ("op", "op"), ("user", "user"), ("at", "at"), ("cell", "cell_id"), ("undone by", "undone_by")]
    emit(state, items, lambda d: table(None, d, columns))


@cells_group.command("undo")
@PID
@NB
@click.argument("op_id")
@if_match_option
@json_option
@click.pass_context
def cells_undo(ctx, pid, nb, op_id, if_match, as_json):
    """Undo an operation of the history (OP_ID from `cells history`)."""
    state = _state(ctx, as_json)
    emit(state, unpack(state.client().undo(pid, nb, op_id, if_match=if_match)), lambda d: record("undone", d))


# -- templates -------------------------------------------------------------------------

TEMPLATE_COLUMNS = [("id", "id"), ("version", "version"), ("title", "title"), ("category", "category"),
                    ("source", "source"), ("tags", lambda t: ", ".join(t.get("tags") or [])),
                    ("retired", lambda t: "retired" if t.get("retired_at") else "")]
TEMPLATE_FIELDS = ["id", "version", "latest_version", "title", "description", "category", "tags", "source", "locked",
                   "author", "created_at", "updated_at", "retired_at"]
SOURCES = click.Choice(["builtin", "path", "user", "contents", "folder"])


def _template_view(data):
    doc = data.get("document") or {}
    schema = doc.get("inputs") or {}
    required = set(schema.get("required") or [])
    rows = [{"input": k, "type": v.get("type") if isinstance(v, dict) else "", "required": "yes" if k in required else "",
             "default": v.get("default") if isinstance(v, dict) else None}
            for k, v in (schema.get("properties") or {}).items()]
    return [record(None, data, TEMPLATE_FIELDS),
            table("inputs", rows, [("input", "input"), ("type", "type"), ("required", "required"), ("default", "default")])]


@cli.group("templates")
def templates_group():
    """The template library; export and import folders of template documents."""


@templates_group.command("list")
@click.option("--category", help="Only this category.")
@click.option("--tag", help="Only templates with this tag.")
@click.option("--query", "-q", help="Text in id, title, description or tags.")
@click.option("--source", type=SOURCES, help="Only this source.")
@click.option("--retired", is_flag=True, help="Include retired user templates.")
@click.option("--kind", type=click.Choice(["cell", "notebook"]), default="cell", show_default=True,
              help="Cell templates, or notebook templates (whole notebooks with a parameters cell).")
@limit_option
@json_option
@click.pass_context
def templates_list(ctx, category, tag, query, source, retired, kind, limit, as_json):
    """The template library (source: builtin, path or user; contents or folder for notebook templates)."""
    state = _state(ctx, as_json)
    found = state.client().iter_templates(category=category, tag=tag, q=query, source=source, retired=retired or None,
                                          page_size=_page_size(limit), kind=None if kind == "cell" else kind)
    items = _take(found, limit)
    emit(state, items, lambda d: table(f"{len(d)} template(s)", d, TEMPLATE_COLUMNS))


@templates_group.command("show")
@click.argument("tid")
@click.option("--version", type=click.IntRange(min=1), help="A past version.")
@json_option
@click.pass_context
def templates_show(ctx, tid, version, as_json):
    """A template: its summary and inputs (its whole document with --json)."""
    state = _state(ctx, as_json)
    emit(state, unpack(state.client().get_template(tid, version)), _template_view)


@templates_group.command("versions")
@click.argument("tid")
@json_option
@click.pass_context
def templates_versions(ctx, tid, as_json):
    """The versions of a template, oldest first."""
    state = _state(ctx, as_json)
    emit(state, state.client().list_template_versions(tid),
         lambda d: table(None, d["items"], [("version", "version"), ("author", "author"), ("created", "created_at")]))


@templates_group.command("render")
@click.argument("tid")
@inputs_option
@input_option
@click.option("--version", type=click.IntRange(min=1), help="A past version.")
@json_option
@click.pass_context
def templates_render(ctx, tid, inputs, pairs, version, as_json):
    """The cells a template makes from inputs (changes no notebook)."""
    state = _state(ctx, as_json)
    data = state.client().render_template(tid, collect_inputs(inputs, pairs) or {}, version)

    def show(d):
        out = []
        for i, cell in enumerate(d["cells"]):
            out += [Text(f"── cell {i} ({cell.get('cell_type')}) ──", style="bold"), Text(cell.get("source") or "")]
        return out

    emit(state, data, show)


@templates_group.command("create")
@click.argument("file")
@json_option
@click.pass_context
def templates_create(ctx, file, as_json):
    """A new user template from a template document (FILE: JSON, - : stdin)."""
    state = _state(ctx, as_json)
    emit(state, unpack(state.client().create_template(load_document(file))), _template_view)


@templates_group.command("update")
@click.argument("file")
@click.option("--if-match", help="The version it replaces, e.g. 3 (default: the latest, read first).")
@json_option
@click.pass_context
def templates_update(ctx, file, if_match, as_json):
    """A new version of a user template (FILE: the new document; its id names the template)."""
    state = _state(ctx, as_json)
    doc = load_document(file)
    tid = doc.get("id")
    if not isinstance(tid, str) or not tid:
        raise CliError(f"{file}: the document has no id")
    client = state.client()
    if if_match is None:
        if_match = client.get_template(tid).etag
    elif if_match.isdigit():
        if_match = f'"{if_match}"'
    emit(state, unpack(client.update_template(tid, doc, if_match=if_match)), _template_view)


@templates_group.command("retire")
@click.argument("tid")
@json_option
@click.pass_context
def templates_retire(ctx, tid, as_json):
    """Retire a user template (cells made from it keep working)."""
    state = _state(ctx, as_json)
    state.client().retire_template(tid)
    done(state, f"retired {tid}")


def document_text(doc: dict) -> str:
    """A template document as ``templates export`` writes it: indented UTF-8 JSON and a newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")  # not *.json: a server reading the folder meanwhile skips it
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# What the server fills in for a field a document leaves out (cell_templates.Template.from_dict).
DOCUMENT_DEFAULTS = {"language": "python", "locked": False, "description": "", "category": "general", "tags": [],
                     "requires": [], "ui": {}}


def _comparable(doc: dict) -> dict:
    """A document as `import` compares it: no version, no field at its default, cell sources as one string."""
    out = {k: v for k, v in doc.items() if k not in ("version", "$schema") and not (k in DOCUMENT_DEFAULTS and v == DOCUMENT_DEFAULTS[k])}
    if isinstance(out.get("cells"), list):
        out["cells"] = [{**c, "source": "".join(c["source"])} if isinstance(c, dict) and isinstance(c.get("source"), list) else c
                        for c in out["cells"]]
    return out


@templates_group.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.argument("ids", nargs=-1)
@click.option("--source", type=click.Choice(["user", "path", "builtin", "all"]), default="user", show_default=True,
              help="The templates to export when no IDS are given.")
@click.option("--retired", is_flag=True, help="Also retired user templates.")
@json_option
@click.pass_context
def templates_export(ctx, folder, ids, source, retired, as_json):
    """Write templates to FOLDER as <id>.json template documents (only IDS when given).

    The folder is a template folder for a server (DatadiveApp.template_folders), and
    `templates import` reads it back.
    """
    state = _state(ctx, as_json)
    client = state.client()
    if not ids:
        ids = [t["id"] for t in client.iter_templates(source=None if source == "all" else source, retired=retired or None)]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {str(folder)!r}: {exc.strerror or exc}") from exc
    results = []
    for tid in ids:
        data = client.get_template(tid).data
        doc = data.get("document")
        if not isinstance(doc, dict) or doc.get("id") != tid or not TEMPLATE_ID.match(tid):
            raise CliError(f"the server answered a document whose id is not {tid!r}, or not a safe file name")
        path = folder / f"{tid}.json"
        text = document_text(doc)
        try:
            old = path.read_text(encoding="utf-8") if path.exists() else None
            if old != text:
                _write_atomic(path, text)
        except OSError as exc:
            raise CliError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
        result = "unchanged" if old == text else ("updated" if old is not None else "written")
        results.append({"id": tid, "version": data.get("version"), "file": str(path), "result": result})
    emit(state, results, lambda d: table(f"{len(d)} template(s) in {folder}", d,
                                         [("id", "id"), ("version", "version"), ("result", "result"), ("file", "file")]))


@templates_group.command("import")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--update/--no-update", default=True, show_default=True,
              help="Add a new version to a user template whose document differs, or leave it as it is.")
@json_option
@click.pass_context
def templates_import(ctx, folder, update, as_json):
    """Create (or update) user templates from FOLDER's <id>.json template documents.

    Each file is created, updated (a new version), unchanged, or failed; the exit code
    is that of the failures (1 when they differ in kind).
    """
    state = _state(ctx, as_json)
    if not folder.is_dir():
        raise CliError(f"{str(folder)!r} is not a folder")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise CliError(f"no *.json template documents in {str(folder)!r}")
    client = state.client()
    results, failures = [], []
    for path in files:
        row = {"file": path.name, "id": None, "result": None, "version": None, "error": None, "errors": []}
        try:
            doc = load_document(str(path), named=False)
            row["id"] = tid = doc.get("id")
            if not isinstance(tid, str) or not tid:
                raise CliError("the document has no id")
            try:
                current = client.get_template(tid)
            except NotFound:
                current = None
            if current is None:
                row["version"], row["result"] = client.create_template(doc).data["version"], "created"
            elif current.data.get("source") != "user":
                raise CliError(f"the id {tid!r} is taken by a {current.data.get('source')} template")
            elif _comparable(current.data["document"]) == _comparable(doc):
                row["version"], row["result"] = current.data["version"], "unchanged"
            elif not update:
                row["version"], row["result"] = current.data["version"], "exists (not updated)"
            else:
                row["version"] = client.update_template(tid, doc, if_match=current.etag).data["version"]
                row["result"] = "updated"
        except (DatadiveError, CliError) as exc:
            row["result"], row["error"], row["errors"] = "failed", exc.message, getattr(exc, "errors", [])
            failures.append(exc)
        results.append(row)

    def show(d):
        rows = [{**r, "error": "; ".join([r["error"] or ""] + [f"{e.get('path')}: {e.get('message')}" for e in r["errors"]]).strip("; ")}
                for r in d]
        return table(f"{len(d)} file(s) from {folder}", rows,
                     [("file", "file"), ("id", "id"), ("result", "result"), ("version", "version"), ("error", "error")])

    emit(state, results, show)
    if failures:
        if not state.json:
            for row in results:
                if row["result"] == "failed":
                    click.echo(f"datadive: {row['file']}: {row['error']}", err=True)
                    for e in row["errors"]:
                        click.echo(f"  {_path(e)}: {e.get('message', '')}", err=True)
        codes = {getattr(f, "exit_code", 1) for f in failures}
        click.echo(f"datadive: {len(failures)} of {len(files)} file(s) failed", err=True)
        ctx.exit(codes.pop() if len(codes) == 1 else 1)


# -- the assistant ---------------------------------------------------------------------


def source_options(f):
    f = click.option("--variable", help="A DataFrame variable in that kernel.")(f)
    f = click.option("--kernel", help="A running kernel's id (with --variable).")(f)
    f = click.option("--path", help="The data file (CSV, TSV, Excel, Parquet, JSON), relative to the project.")(f)
    return click.option("--project", "-p", help="The project of the data file (with --path).")(f)


level_option = click.option("--level", "levels", multiple=True, metavar="COLUMN=LEVEL",
                            help="Override a column's level (nominal, ordinal, interval, ratio, binary, count...); repeatable.")


def _source(project, path, kernel, variable) -> dict:
    if project and path and not (kernel or variable):
        return file_source(project, path)
    if kernel and variable and not (project or path):
        return kernel_source(kernel, variable)
    raise click.UsageError("give the data as --project PID --path FILE, or as --kernel ID --variable NAME")


def _levels(pairs) -> Optional[dict]:
    out = {}
    for pair in pairs or ():
        name, sep, level = pair.partition("=")
        if not sep or not name or not level:
            raise click.BadParameter(f"{pair!r} is not COLUMN=LEVEL", param_hint="--level")
        out[name] = level
    return out or None


def _one_or_many(values):
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def _profile_table(profile: dict):
    columns = (profile or {}).get("columns") or {}
    rows = [{"column": name, **(entry if isinstance(entry, dict) else {})} for name, entry in columns.items()]
    return table(f"{(profile or {}).get('rows', '?')} row(s)", rows,
                 [("column", "column"), ("dtype", "dtype"), ("level", "level"), ("n", "n"), ("missing", "missing"), ("distinct", "distinct")])


@cli.command("profile")
@source_options
@level_option
@json_option
@click.pass_context
def profile_cmd(ctx, project, path, kernel, variable, levels, as_json):
    """The assistant's profile of a data set: each column's level and counts."""
    state = _state(ctx, as_json)
    data = state.client().assistant_profile(_source(project, path, kernel, variable), _levels(levels))
    emit(state, data, _profile_table)


@cli.command("suggest")
@source_options
@click.option("--outcome", "-o", multiple=True, help="The outcome column (repeat for wide repeated measures).")
@click.option("--between", multiple=True, help="A between-subjects factor; repeatable.")
@click.option("--within", multiple=True, help="A within-subjects factor; repeatable.")
@click.option("--predictor", multiple=True, help="A predictor; repeatable.")
@click.option("--covariate", multiple=True, help="A covariate; repeatable.")
@click.option("--subject", help="The subject id column.")
@click.option("--weights", help="A weights column.")
@click.option("--strata", help="A strata column.")
@click.option("--test-value", type=float, help="The value a one-sample test compares with.")
@click.option("--goal", type=click.Choice(["difference", "association", "prediction"]))
@level_option
@click.option("--design", help="The whole design as JSON (@FILE, - : stdin); the options above override its fields.")
@json_option
@click.pass_context
def suggest_cmd(ctx, project, path, kernel, variable, outcome, between, within, predictor, covariate, subject, weights, strata,
                test_value, goal, levels, design, as_json):
    """The statistical tests that fit a design, each with the template and inputs that run it."""
    state = _state(ctx, as_json)
    body = read_json(design, "--design") if design is not None else {}
    if not isinstance(body, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--design")
    body.update({k: v for k, v in {
        "outcome": _one_or_many(outcome), "between": _one_or_many(between), "within": _one_or_many(within),
        "predictors": list(predictor) or None, "covariates": list(covariate) or None, "subject": subject,
        "weights": weights, "strata": strata, "test_value": test_value, "goal": goal, "levels": _levels(levels),
    }.items() if v is not None})
    if "outcome" not in body:
        raise click.UsageError("give the outcome column with --outcome (or in --design)")
    data = state.client().assistant_suggest(_source(project, path, kernel, variable), body)

    def show(d):
        rows = [{"#": i + 1, **s} for i, s in enumerate(d.get("suggestions") or [])]
        return table(f"{len(rows)} suggestion(s)", rows, [
            ("#", "#"), ("test", "test"), ("title", "title"), ("template", "template"),
            ("warnings", lambda s: len(s.get("warnings") or []) or ""),
        ])

    emit(state, data, show)


# -- runs ------------------------------------------------------------------------------


@cli.command("run")
@PID
@click.argument("notebook")
@click.option("--parameter", "-P", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A parameter (the value is JSON when it parses); repeatable.")
@click.option("--parameters", help="Every parameter as a JSON object (@FILE, - : stdin).")
@click.option("--run-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds the run may take (default: the server's).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the run to its end with a progress bar.")
@json_option
@click.pass_context
def run_cmd(ctx, pid, notebook, pairs, parameters, run_timeout, wait, as_json):
    """Run NOTEBOOK of project PID headless, with parameters.

    The server checks the parameters against the notebook's parameters cell before
    anything runs (exit 4 with every bad one), queues the run and writes the executed
    copy into the project (runs/<stem>-<run id>.ipynb). With --wait (the default) the
    command follows the run with a progress bar of its code cells and exits 0 only
    if it succeeded (1 if it failed, was cancelled or interrupted); Ctrl-C cancels
    the run. --no-wait prints the run as queued and exits 0.
    """
    state = _state(ctx, as_json)
    client = state.client()
    values = collect_inputs(parameters, pairs, "--parameters", "--parameter")
    run = client.create_run(pid, notebook, values, timeout=run_timeout)  # NotAvailable (exit 12) on a server without runs
    if wait and run.get("status") not in RUN_DONE:
        try:
            run = _follow(state, client, pid, run)
        except KeyboardInterrupt:
            click.echo(f"datadive: cancelling run {run['id']} ...", err=True)
            try:
                run = client.cancel_run(pid, run["id"])
            except DatadiveError as exc:
                if exc.code != "run_finished":
                    raise
                run = client.get_run(pid, run["id"])
    emit(state, run, _run_record)
    if wait and run.get("status") != "succeeded":
        if not state.json:
            error = run.get("error") or {}
            click.echo(f"datadive: run {run.get('id')} {run.get('status')}"
                       + (f" ({error.get('code')}): {error.get('message')}" if error else ""), err=True)
        ctx.exit(1)


def _progress_text(run: dict) -> str:
    progress = run.get("progress") if isinstance(run.get("progress"), dict) else {}
    total = progress.get("total")
    return f"{progress.get('done', 0)}/{total}" if total is not None else str(progress.get("done", 0))


def _run_record(run: dict):
    """The run as a table; a failure adds the failing cell's traceback below it."""
    shown = {
        "id": run.get("id"), "notebook": run.get("notebook"), "status": run.get("status"), "progress": _progress_text(run),
        "parameters": run.get("parameters") or None, "output": run.get("output"), "created_by": run.get("created_by"),
        "started_at": run.get("started_at"), "finished_at": run.get("finished_at"),
        "duration": f"{run['duration']:.1f} s" if isinstance(run.get("duration"), (int, float)) else None,
    }
    error = run.get("error") if isinstance(run.get("error"), dict) else None
    if error:
        shown["error"] = f"{error.get('code')}: {error.get('message')}"
        if error.get("cell_index") is not None:
            shown["cell"] = f"{error.get('cell_index')} (id {error.get('cell_id')})"
    out = [record(f"run {run.get('id', '')}", {k: v for k, v in shown.items() if v is not None})]
    if error and error.get("traceback"):
        out.append(Text(error["traceback"]))
    return out


def _follow(state: State, client: DatadiveClient, pid: str, run: dict) -> dict:
    """Polls the run until it ends, with a progress bar of its code cells (on a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  disable=state.json or not console.is_terminal) as bar:
        progress = run.get("progress") if isinstance(run.get("progress"), dict) else {}
        task = bar.add_task(str(run.get("status", "queued")), total=progress.get("total"))

        def show(current: dict) -> None:
            now = current.get("progress") if isinstance(current.get("progress"), dict) else {}
            bar.update(task, description=str(current.get("status")), completed=now.get("done") or 0, total=now.get("total"))

        return client.wait_run(pid, run["id"], poll=0.5, on_update=show)


# -- the API description ---------------------------------------------------------------


@cli.command("openapi")
@json_option
@click.pass_context
def openapi_cmd(ctx, as_json):
    """The server's OpenAPI description: a table of its operations (the document with --json)."""
    state = _state(ctx, as_json)

    def show(d):
        rows = [{"method": m.upper(), "path": p, "operation": op.get("operationId")}
                for p, ops in (d.get("paths") or {}).items() for m, op in ops.items() if isinstance(op, dict) and m != "parameters"]
        info = d.get("info") or {}
        return table(f"{info.get('title', '')} {info.get('version', '')}".strip(), rows,
                     [("method", "method"), ("path", "path"), ("operation", "operation")])

    emit(state, state.client().openapi(), show)


def main(argv: Optional[list[str]] = None) -> Any:
    """The ``datadive`` console script."""
    return cli.main(args=argv, prog_name="datadive")


if __name__ == "__main__":
    main()
