"""The assistant's data sources and its REST service: a data file in a project, a live kernel variable, an inline table.

Files are read with bounded memory: only the columns the design uses (all of
them for a profile), and past ``full_read_bytes`` a uniform random sample of
at most ``sample_rows`` rows, drawn while streaming (CSV / TSV in chunks through
pandas' reader, Parquet row group by row group). The heavy work runs in a
thread, off the server's event loop.

A kernel variable is analysed inside its kernel: a silent execution (no
history, no output, no execution count) calls ``cell_templates.assistant`` on
the variable and returns JSON. The variable name must be a plain identifier and
every design value is written as a Python literal, so nothing a client sends
can become code in the kernel.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import posixpath
import uuid

from cell_templates.errors import pointer
from cell_templates.jsonsafe import json_safe
from cell_templates.literals import identifier_problem, to_literal

from ..errors import ApiError, Conflict, Invalid, NotFound, TooLarge

READERS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "excel", ".xls": "excel", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DESIGN_KEYS = ("outcome", "predictors", "between", "within", "covariates", "subject", "weights", "strata",
               "test_value", "expected", "goal", "levels")
COLUMN_KEYS = ("outcome", "predictors", "between", "within", "covariates", "subject", "weights", "strata")


class KernelTimeout(ApiError):
    status, code = 504, "kernel_timeout"


def design_columns(design: dict) -> list[str]:
    cols: list[str] = []
    for key in COLUMN_KEYS:
        value = design.get(key)
        for col in ([value] if isinstance(value, str) else value or []):
            if isinstance(col, str) and col not in cols:
                cols.append(col)
    return cols


# ---- reading files -----------------------------------------------------------------

def read_frame(os_path: str, kind: str, columns: list[str] | None, *, full_read_bytes: int, sample_rows: int, seed: int = 0):
    """``(DataFrame, info)``; ``info`` says how many rows were read and whether it is a sample."""
    import pandas as pd

    size = os.path.getsize(os_path)
    if kind in ("csv", "tsv"):
        return _read_csv(os_path, kind, columns, size, full_read_bytes, sample_rows, seed)
    if kind == "parquet":
        return _read_parquet(os_path, columns, full_read_bytes, sample_rows, seed)
    if size > full_read_bytes:
        raise TooLarge(f"{kind} files larger than {full_read_bytes // 2**20} MiB cannot be analysed; save the data as CSV or Parquet")
    if kind == "excel":
        df = pd.read_excel(os_path, usecols=columns or None)
    elif kind == "jsonl":
        df = pd.read_json(os_path, lines=True)
    else:
        df = pd.read_json(os_path)
    if columns:
        df = df[[c for c in columns if c in df.columns]]
    return df, {"rows_read": len(df), "sampled": False, "bytes": size}


NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL"]  # not "None": the assistant decides what it means
CHUNK_ROWS = 200_000


def _read_csv(os_path, kind, columns, size, full_read_bytes, sample_rows, seed):
    import pandas as pd

    options = dict(sep="\t" if kind == "tsv" else ",", usecols=columns or None, keep_default_na=False, na_values=NA_VALUES)
    if size <= full_read_bytes:
        df = pd.read_csv(os_path, **options)
        return df, {"rows_read": len(df), "sampled": False, "bytes": size}
    chunks = pd.read_csv(os_path, chunksize=CHUNK_ROWS, **options)
    df, seen = _bottom_k(chunks, sample_rows, seed)
    return df, {"rows_read": len(df), "rows_total": seen, "sampled": seen > len(df), "bytes": size}


def _bottom_k(frames, k: int, seed: int):
    """A uniform random sample of ``k`` rows from a stream of DataFrames, in bounded memory.

    Every row gets a random key; the rows with the ``k`` smallest keys so far are
    kept (vectorised per chunk), which is a uniform sample without replacement,
    deterministic for a seed. Returns the sample in file order and the rows seen.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    kept, kept_keys, seen = None, np.empty(0), 0
    for frame in frames:
        keys = rng.random(len(frame))
        seen += len(frame)
        if kept is None:
            kept, kept_keys = frame.reset_index(drop=True), keys
        else:
            kept = pd.concat([kept, frame], ignore_index=True)
            kept_keys = np.concatenate([kept_keys, keys])
        if len(kept) > k:
            idx = np.sort(np.argpartition(kept_keys, k)[:k])
            kept, kept_keys = kept.iloc[idx].reset_index(drop=True), kept_keys[idx]
    if kept is None:
        raise ValueError("the file has no rows")
    return kept, seen


def _read_parquet(os_path, columns, full_read_bytes, sample_rows, seed):
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(os_path)
    total = pf.metadata.num_rows
    cols = [c for c in columns if c in pf.schema_arrow.names] if columns else None
    if os.path.getsize(os_path) <= full_read_bytes or total <= sample_rows:
        df = pf.read(columns=cols).to_pandas()
        return df, {"rows_read": len(df), "sampled": False}
    groups = (pf.read_row_group(g, columns=cols).to_pandas() for g in range(pf.num_row_groups))
    df, seen = _bottom_k(groups, sample_rows, seed)
    return df, {"rows_read": len(df), "rows_total": seen, "sampled": True}


def inline_frame(table: dict):
    """A small table sent in the request: ``{columns, rows}`` or ``{data: {column: values}}``.

    Its shape is checked here, with paths: every row as long as ``columns``, every
    column of ``data`` as long as the first, no column named twice.
    """
    import pandas as pd

    errors = []
    if "columns" in table:
        columns, rows = list(table["columns"]), table.get("rows") or []
        errors += _duplicates(columns, "/source/table/columns")
        errors += [{"path": f"/source/table/rows/{i}", "message": f"has {len(r)} values for {len(columns)} columns"}
                   for i, r in enumerate(rows) if len(r) != len(columns)][:20]
        if errors:
            raise Invalid("the inline table is not rectangular", errors, code="invalid_table")
        df = pd.DataFrame(rows, columns=columns)
    else:
        data = table.get("data") or {}
        lengths = {name: len(values) for name, values in data.items()}
        first = next(iter(lengths.values()), 0)
        errors += [{"path": pointer(("source", "table", "data", name)), "message": f"has {n} values, the first column {first}"}
                   for name, n in lengths.items() if n != first][:20]
        if errors:
            raise Invalid("the inline table's columns differ in length", errors, code="invalid_table")
        df = pd.DataFrame(data)
    return df, {"rows_read": len(df), "sampled": False}


def _duplicates(names: list, where: str) -> list[dict]:
    seen, errors = set(), []
    for i, name in enumerate(names):
        if name in seen:
            errors.append({"path": f"{where}/{i}", "message": f"repeats the column name {name!r}"})
        seen.add(name)
    return errors


# ---- kernels -------------------------------------------------------------------------

KERNEL_CODE = """\
def _datadive_assistant_call():
    globals().pop("_datadive_assistant_call", None)  # leave nothing behind in the user's namespace
    import json
    try:
        import pandas
        from cell_templates import assistant
    except ImportError as exc:
        return json.dumps({{"error": "missing", "detail": str(exc)}})
    try:
        frame = {variable}
    except NameError:
        return json.dumps({{"error": "no_variable"}})
    if not isinstance(frame, pandas.DataFrame):
        return json.dumps({{"error": "not_a_dataframe", "detail": type(frame).__name__}})
    try:
        result = assistant.{function}(frame, **{kwargs})
    except Exception as exc:
        return json.dumps({{"error": "failed", "detail": type(exc).__name__ + ": " + str(exc),
                           "errors": getattr(exc, "errors", None), "code": getattr(exc, "code", None)}}, default=str)
    return json.dumps({{"result": result}}, default=str)
"""


def check_variable(variable) -> str:
    """A kernel variable name: a plain ASCII identifier, not a keyword, not a dunder name."""
    if identifier_problem(variable, existing=True) is not None:
        raise Invalid("the variable must be a plain Python name such as df", [{"path": "/source/variable", "message": "is not a plain identifier"}], code="invalid_variable")
    return variable


def kernel_code(variable: str, function: str, kwargs: dict) -> tuple[str, str]:
    """The code run silently in the kernel, and the expression that returns its answer."""
    check_variable(variable)
    token = uuid.uuid4().hex[:8]
    code = KERNEL_CODE.format(variable=variable, function=function, kwargs=to_literal(kwargs))
    code = code.replace("_datadive_assistant_call", f"_datadive_assistant_call_{token}")
    return code, f"_datadive_assistant_call_{token}()"


async def run_in_kernel(km, kernel_id: str, code: str, expression: str, timeout: float) -> dict:
    if kernel_id not in km:
        raise NotFound(f"no kernel {kernel_id!r}", [{"path": "/source/kernel_id", "message": "no such kernel"}], code="kernel_not_found")
    kernel = km.get_kernel(kernel_id)
    client = kernel.client()
    client.start_channels()
    try:
        msg_id = client.execute(code, silent=True, store_history=False, user_expressions={"r": expression}, allow_stdin=False)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise KernelTimeout(f"the kernel did not answer within {timeout:g} s (is it busy?)")
            try:
                reply = await client.get_shell_msg(timeout=remaining)
            except Exception:
                raise KernelTimeout(f"the kernel did not answer within {timeout:g} s (is it busy?)") from None
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
    finally:
        client.stop_channels()
    content = reply["content"]
    if content.get("status") != "ok":
        raise Conflict(f"the kernel could not run the assistant: {content.get('ename')}: {content.get('evalue')}", code="kernel_error")
    expr = content.get("user_expressions", {}).get("r", {})
    if expr.get("status") != "ok":
        raise Conflict(f"the kernel could not run the assistant: {expr.get('ename')}: {expr.get('evalue')}", code="kernel_error")
    text = expr["data"]["text/plain"]
    answer = json.loads(ast.literal_eval(text))
    error = answer.get("error")
    if error == "missing":
        raise Conflict("the kernel's environment lacks cell_templates (install datadive into the kernel's environment)",
                       [{"path": "/source/kernel_id", "message": answer.get("detail", "")}], code="kernel_missing_library")
    if error == "no_variable":
        raise Invalid("no such variable in the kernel", [{"path": "/source/variable", "message": "is not defined in the kernel"}], code="unknown_variable")
    if error == "not_a_dataframe":
        raise Invalid(f"the variable is a {answer.get('detail')}, not a pandas DataFrame", [{"path": "/source/variable", "message": "is not a DataFrame"}], code="not_a_dataframe")
    if error == "failed":
        raise Invalid(answer.get("detail") or "the assistant failed", answer.get("errors") or [], code=answer.get("code") or "invalid_design")
    return answer["result"]


# ---- the service -----------------------------------------------------------------------

class AssistantService:
    def __init__(self, projects, kernel_manager=None, *, full_read_bytes=64 << 20, sample_rows=200_000, kernel_timeout=30.0):
        self.projects = projects
        self.km = kernel_manager
        self.full_read_bytes = full_read_bytes
        self.sample_rows = sample_rows
        self.kernel_timeout = kernel_timeout

    async def _frame(self, source: dict, user: str, columns: list[str] | None):
        loop = asyncio.get_running_loop()
        if "table" in source:
            return await loop.run_in_executor(None, inline_frame, source["table"])
        row, _ = await self.projects.folder(source["project"], user, "viewer")
        rel = source["path"]
        path = self.projects.notebook_path(row, rel, "/source/path")
        kind = READERS.get(posixpath.splitext(rel)[1].lower())
        if kind is None:
            raise Invalid("unsupported file type", [{"path": "/source/path", "message": "must end in " + ", ".join(sorted(READERS))}], code="unsupported_file")
        if not await self.projects.file_exists(path):
            raise NotFound(f"no file {rel!r} in this project", [{"path": "/source/path", "message": "no such file"}], code="file_not_found")
        os_path = self.projects.os_path(path)
        if os_path is None:
            raise Invalid("this server's contents manager does not keep files on disk; send the data inline", [{"path": "/source", "message": "files cannot be read here"}], code="unsupported_source")

        def read():
            try:
                return read_frame(os_path, kind, columns, full_read_bytes=self.full_read_bytes, sample_rows=self.sample_rows)
            except ApiError:
                raise
            except Exception as exc:
                raise Invalid(f"the file could not be read as {kind}: {type(exc).__name__}: {str(exc)[:200]}",
                              [{"path": "/source/path", "message": "unreadable"}], code="unreadable_file") from None

        return await loop.run_in_executor(None, read)

    async def run(self, function: str, body: dict, user: str, kernel_allowed) -> dict:
        from cell_templates import assistant

        source = body["source"]
        design = {k: v for k, v in (body.get("design") or {}).items() if k in DESIGN_KEYS}
        if function == "profile":
            kwargs = {"levels": body.get("levels")} if body.get("levels") else {}
        else:
            kwargs = design
        if "kernel_id" in source:
            if self.km is None:
                raise Invalid("this server has no kernels", code="unsupported_source")
            if not await kernel_allowed():
                from ..errors import Forbidden

                raise Forbidden("reading a kernel's variables needs permission to execute code in it", code="kernel_forbidden")
            code, expression = kernel_code(source["variable"], function, kwargs)
            result = await run_in_kernel(self.km, source["kernel_id"], code, expression, self.kernel_timeout)
            return json_safe({**result, "source": {"kernel_id": source["kernel_id"], "variable": source["variable"]}})
        columns = None if function == "profile" else design_columns(design)
        df, info = await self._frame(source, user, columns)
        fn = getattr(assistant, function)
        result = await asyncio.get_running_loop().run_in_executor(None, lambda: fn(df, **kwargs))
        return json_safe({**result, "source": info} if isinstance(result, dict) else {"result": result, "source": info})
