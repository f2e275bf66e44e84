"""The kernel layer: ``%load_ext cell_templates`` / ``%datadive`` and ``cell_templates.form``.

The magics run in a real ipykernel shell (``ipykernel.inprocess``: a
``ZMQInteractiveShell`` whose ``set_next_input`` writes the real
``set_next_input`` payload of the execute reply, and whose errors come back as
execute replies), plus one test in a real kernel subprocess over ZMQ.

``%datadive suggest`` runs the real ``cell_templates.assistant`` (its numpy,
pandas and scipy are in the test extra).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap

import pytest

import ipykernel  # noqa: F401  (in the test extra: missing is a failure)
import ipywidgets  # noqa: F401  (in the test extra: missing is a failure)
import pandas as pd
import numpy as np

from IPython.core.error import UsageError  # noqa: E402

from cell_templates import Template, builtin_templates  # noqa: E402
from cell_templates.kernel import cells_to_code, format_value, parse_value, split_line  # noqa: E402

try:
    from hostile_strings import HOSTILE_STRINGS
except ImportError:  # pragma: no cover - run from the repository root
    from tests.hostile_strings import HOSTILE_STRINGS

os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


# ---------------------------------------------------------------------------
# a real ipykernel shell, in process
# ---------------------------------------------------------------------------


class Reply:
    def __init__(self, content, messages):
        self.content = content
        self.status = content["status"]
        self.ename = content.get("ename")
        self.traceback = content.get("traceback")
        self.payload = content.get("payload", [])
        self.messages = messages

    @property
    def next_input(self):
        texts = [p["text"] for p in self.payload if p.get("source") == "set_next_input"]
        assert all(p.get("replace") is False for p in self.payload if p.get("source") == "set_next_input")
        return texts[-1] if texts else None

    def stream(self, name):
        return "".join(c["text"] for t, c in self.messages if t == "stream" and c["name"] == name)

    def data(self, mime):
        return [c["data"][mime] for t, c in self.messages if t in ("execute_result", "display_data") and mime in c["data"]]


class Kernel:
    def __init__(self):
        from ipykernel.inprocess.manager import InProcessKernelManager

        self.km = InProcessKernelManager()
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.shell = self.km.kernel.shell

    def run(self, code) -> Reply:
        self.kc.execute(code)
        content = self.kc.get_shell_msg(timeout=60)["content"]
        messages = []
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except Exception:
                break
            messages.append((msg["msg_type"], msg["content"]))
        return Reply(content, messages)

    def magic(self, line):
        """``%datadive line`` called directly; returns (value, next_input text or None)."""
        pm = self.shell.payload_manager
        pm.clear_payload()
        value = self.shell.run_line_magic("datadive", line)
        payload = pm.read_payload()
        pm.clear_payload()
        texts = [p["text"] for p in payload if p.get("source") == "set_next_input"]
        return value, (texts[-1] if texts else None)

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel()


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    reply = k.run("%load_ext cell_templates")
    assert reply.status == "ok", reply.content
    yield k
    k.close()


def expected_code(cells_sources) -> str:
    """Code cells joined by a blank line, written here independently of the kernel module."""
    return "\n\n".join(src.strip("\n") for kind, src in cells_sources if kind == "code") + "\n"


def sources(cells):
    return [(c["cell_type"], c["source"] if isinstance(c["source"], str) else "".join(c["source"])) for c in cells]


# ---------------------------------------------------------------------------
# laziness
# ---------------------------------------------------------------------------


def _run_python(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_import_cell_templates_does_not_import_ipython_or_ipywidgets():
    proc = _run_python("""
        import sys
        import cell_templates
        cell_templates.builtin_templates()
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("IPython", "ipywidgets", "ipykernel", "comm"))
        print(loaded)
        assert "cell_templates.kernel" not in sys.modules and "cell_templates.forms" not in sys.modules
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_forms_without_ipywidgets_is_a_clear_import_error():
    proc = _run_python("""
        import sys
        sys.modules["ipywidgets"] = None  # as if it were not installed
        import cell_templates
        for attempt in (lambda: __import__("cell_templates.forms"), lambda: cell_templates.form("value-counts")):
            try:
                attempt()
            except ImportError as exc:
                print("ImportError:", exc)
            else:
                raise SystemExit("no ImportError")
    """)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "needs ipywidgets" in line and "pip install ipywidgets" in line


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("5", 5), ("-2.5", -2.5), ("true", True), ("false", False), ("null", None), ("True", True), ("None", None),
    ('"two words"', "two words"), ("'single'", "single"), ('["a", "b"]', ["a", "b"]), ("['a', 'b']", ["a", "b"]),
    ("('a', 1)", ["a", 1]), ('{"a": 0.5}', {"a": 0.5}), ("species", "species"), ("data/x.csv", "data/x.csv"),
    ("2024-01-01", "2024-01-01"), ("__import__('os')", "__import__('os')"), ("os.system('id')", "os.system('id')"),
    ("", ""), (".5", 0.5),
])
def test_parse_value(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


@pytest.mark.parametrize("text", ['["a",', "'open", '{"a": }', "[a, b]", "{1, 2}", "b'x'", "(1+2j)", "{1: 2}"])
def test_parse_value_refuses_broken_or_non_json_literals(text):
    with pytest.raises(ValueError):
        parse_value(text)


@pytest.mark.parametrize("value", ["species", "two words", "True", "None", "5", "1e3", "", "a=b", "x'y", 'q"q', "[x",
                                   "\u2028", "é", 5, 2.5, True, None, ["a", 1], {"k": [1, "x"]}, float("inf")])
def test_format_value_round_trips(value):
    text = format_value(value)
    assert len(split_line(f"k={text}")) == 1
    assert parse_value(text) == value


@pytest.mark.parametrize("hid, value", HOSTILE_STRINGS, ids=[h for h, _ in HOSTILE_STRINGS])
def test_hostile_strings_round_trip_as_text(hid, value):
    text = format_value(value)
    tokens = split_line(f"insert value-counts column={text}")
    assert tokens[-1] == f"column={text}"
    assert parse_value(text) == value


def test_split_line_keeps_quotes_and_brackets():
    assert split_line('a=1 b="x y" c=["p q", 2] d={"k": [1, 2]} e=\'z w\'') == [
        "a=1", 'b="x y"', 'c=["p q", 2]', 'd={"k": [1, 2]}', "e='z w'"]
    for bad in ('a="open', "a=[1, 2", "a=]"):
        with pytest.raises(UsageError):
            split_line(bad)


@pytest.mark.parametrize("value, text", [
    ("species", "species"), ("data/x.csv", "data/x.csv"), ("two words", '"two words"'), ("True", '"True"'),
    ("None", '"None"'), ("5", '"5"'), ("1e3", '"1e3"'), ("", '""'), ("a=b", '"a=b"'), ("x'y", '"x\'y"'),
    ('q"q', '"q\\"q"'), ("é", '"é"'), ("\u2028", '"\\u2028"'), (5, "5"), (2.5, "2.5"), (True, "true"), (None, "null"),
    (["a", 1], '["a", 1]'), ({"k": [1, "x"]}, '{"k": [1, "x"]}'), (float("inf"), "Infinity"),
])
def test_format_value_writes(value, text):
    assert format_value(value) == text


def test_cells_to_code_writes_markdown_as_comments():
    cells = [
        {"cell_type": "markdown", "source": "## Two *groups*\n\nCompare **score** by \\_arm\\_ (see \\[1\\]).\n\n"},
        {"cell_type": "code", "source": ["import pandas as pd\n", "x = 1\n\n"]},
        {"cell_type": "markdown", "source": "Line one\u2028line two\n\n\n"},
        {"cell_type": "code", "source": "\n# a code comment\ny = 2"},
        {"cell_type": "markdown", "source": "\n\n"},
    ]
    assert cells_to_code(cells) == (
        "# Two *groups*\n"
        "#\n"
        "# Compare score by _arm_ (see [1]).\n"
        "\n"
        "import pandas as pd\n"
        "x = 1\n"
        "\n"
        "# Line one\n"
        "# line two\n"
        "\n"
        "# a code comment\n"
        "y = 2\n"
    )
    markdown_only = [{"cell_type": "markdown", "source": "# Title\n"}, {"cell_type": "markdown", "source": "\nText\n"}]
    assert cells_to_code(markdown_only) == "%%markdown\n# Title\n\nText"


# ---------------------------------------------------------------------------
# %datadive templates
# ---------------------------------------------------------------------------


def test_templates_lists_every_builtin(kernel):
    reply = kernel.run("%datadive templates")
    assert reply.status == "ok", reply.content
    [html] = reply.data("text/html")
    [text] = reply.data("text/plain")
    for tid, t in builtin_templates().items():
        assert f"<code>{tid}</code>" in html
        assert tid in text
    assert "value-counts" in text and "Value counts" in text


def test_templates_filters_and_value(kernel):
    value, _ = kernel.magic("templates --category stats")
    ids = [r["id"] for r in value]
    assert ids and all(builtin_templates()[i].category == "stats" for i in ids)
    assert "stat-independent-t" in ids and "value-counts" not in ids

    value, _ = kernel.magic("templates --q t test")
    assert "stat-independent-t" in [r["id"] for r in value]
    assert "histogram" not in [r["id"] for r in value]

    value, _ = kernel.magic("templates --category nonsense")
    assert list(value) == [] and "Categories:" in repr(value) and "Categories:" in value._repr_html_()

    reply = kernel.run("rows = %datadive templates --category explore\nids = [r['id'] for r in rows]")
    assert reply.status == "ok"
    assert "value-counts" in kernel.shell.user_ns["ids"]


def test_help_and_unknown_subcommand(kernel):
    reply = kernel.run("%datadive")
    assert reply.status == "ok" and "%datadive insert TEMPLATE" in reply.stream("stdout")
    reply = kernel.run("%datadive frobnicate")
    assert reply.status == "error" and reply.ename == "UsageError" and reply.traceback == []
    assert "unknown subcommand" in reply.stream("stderr")
    reply = kernel.run("%datadive templates --help")
    assert reply.status == "ok" and "--category" in reply.stream("stdout")


# ---------------------------------------------------------------------------
# %datadive insert
# ---------------------------------------------------------------------------

INSERT_CASES = [
    # (line after "insert", template id, the inputs the line must mean)
    ("value-counts column=species", "value-counts", {"column": "species"}),
    ("value-counts column=species top=5 include_missing=false sort=value name=vc",
     "value-counts", {"column": "species", "top": 5, "include_missing": False, "sort": "value", "name": "vc"}),
    ('value-counts column="body mass (g)" df=penguins', "value-counts", {"column": "body mass (g)", "df": "penguins"}),
    ("value-counts column='it''s'", "value-counts", {"column": "its"}),
    ("value-counts column=2019", "value-counts", {"column": "2019"}),
    ("value-counts column=true name=null", "value-counts", {"column": "true", "name": "null"}),
    ('group-summary by=["species","island"] values=[\'body_mass_g\'] aggs=["mean","max"] decimals=2',
     "group-summary", {"by": ["species", "island"], "values": ["body_mass_g"], "aggs": ["mean", "max"], "decimals": 2}),
    ("summary-stats percentiles=[0.1,0.9] columns=['a b']", "summary-stats", {"percentiles": [0.1, 0.9], "columns": ["a b"]}),
    ('filter-rows conditions=[{"column":"x","op":">","value":3},{"column":"s","op":"isin","values":["a","b"]}] combine=any',
     "filter-rows", {"conditions": [{"column": "x", "op": ">", "value": 3}, {"column": "s", "op": "isin", "values": ["a", "b"]}],
                     "combine": "any"}),
    ('stat-chi2-gof outcome=colour expected={"red": 0.5, "blue": 0.5}', "stat-chi2-gof",
     {"outcome": "colour", "expected": {"red": 0.5, "blue": 0.5}}),
    ('stat-friedman outcome=["t1","t2","t3"]', "stat-friedman", {"outcome": ["t1", "t2", "t3"]}),
    ("stat-binomial-test outcome=answer success=yes test_value=0.25", "stat-binomial-test",
     {"outcome": "answer", "success": "yes", "test_value": 0.25}),
]


@pytest.mark.parametrize("line, tid, inputs", INSERT_CASES, ids=[c[0][:40] for c in INSERT_CASES])
def test_insert_puts_the_rendered_code_in_the_next_cell(kernel, line, tid, inputs):
    assert tid in builtin_templates()
    reply = kernel.run("%datadive insert " + line)
    assert reply.status == "ok", reply.stream("stderr")
    template = builtin_templates()[tid]
    rendered = sources(template.render(inputs))
    code = reply.next_input
    assert code is not None
    if all(kind == "code" for kind, _ in rendered):
        assert code == expected_code(rendered)
    else:  # Markdown cells become comments between the code cells
        stripped = "\n".join(l for l in code.splitlines() if not l.startswith("#")).strip()
        assert stripped.split() == expected_code(rendered).split()
    ast.parse(code)
    assert reply.data("text/plain") == []  # nothing else is shown


def test_insert_markdown_cells_become_comments(kernel):
    template = builtin_templates()["stat-independent-t"]
    _, code = kernel.magic("insert stat-independent-t outcome=score group=arm")
    rendered = sources(template.render({"outcome": "score", "group": "arm"}))
    header = ("# Independent-samples t test (Student)\n"
              "#\n"
              "# Compares the means of score between the 2 groups of arm, assuming equal variances. Assumptions: normality in "
              "each group (Shapiro-Wilk; with 30 or more per group a mild departure is acceptable) and equal variances (Levene, "
              "median-centred); when the variances differ use Welch's t test. Effect size: Cohen's d and Hedges' g.\n"
              "\n")
    assert [kind for kind, _ in rendered] == ["markdown", "code", "code", "code"]
    assert code.startswith(header) and code[len(header):] == expected_code(rendered)
    # every code cell is there, in order
    pos = 0
    for kind, src in rendered:
        if kind == "code":
            pos = code.index(src.strip("\n"), pos)
    # the Markdown text is there as comment lines only
    md_lines = [l for l in code.splitlines() if l.startswith("# ")]
    assert md_lines[0] == "# Independent-samples t test (Student)"
    assert any("score" in l for l in md_lines)
    tree = ast.parse(code)
    assert any(isinstance(n, ast.Import) for n in tree.body)


def test_insert_markdown_only_template_is_a_markdown_magic_cell(kernel):
    _, code = kernel.magic('insert notes heading="Results" paragraphs=["First <b>one</b>", "Second"]')
    assert code.startswith("%%markdown\n") and "Results" in code and "Second" in code
    reply = kernel.run(code)
    assert reply.status == "ok"
    [md] = reply.data("text/markdown")
    assert "Results" in md


def test_insert_print_and_help(kernel):
    reply = kernel.run("%datadive insert value-counts column=species --print")
    assert reply.status == "ok" and reply.next_input is None
    assert "value_counts" in reply.stream("stdout")
    reply = kernel.run("%datadive insert stat-independent-t --help")
    assert reply.status == "ok" and "outcome: string; required" in reply.stream("stdout")


def test_insert_from_a_template_file(kernel, tmp_path):
    doc = builtin_templates()["value-counts"].to_dict()
    doc["id"] = "my-counts"
    path = tmp_path / "my counts.json"
    path.write_text(json.dumps(doc))
    _, code = kernel.magic(f"insert --file {json.dumps(str(path))} column=x")
    assert code == expected_code(sources(Template.from_dict(doc).render({"column": "x"})))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "Bad Id"}))
    with pytest.raises(UsageError, match="invalid"):
        kernel.magic(f"insert --file {bad}")
    with pytest.raises(UsageError, match="only the built-in"):
        kernel.magic("insert value-counts --version 2 column=x")


@pytest.mark.parametrize("hid, value", HOSTILE_STRINGS, ids=[h for h, _ in HOSTILE_STRINGS])
def test_hostile_values_are_literals_or_refused(kernel, hid, value):
    template = builtin_templates()["value-counts"]
    for typed in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        try:
            _, code = kernel.magic(f"insert value-counts column={typed}")
        except UsageError as exc:
            assert "/column" in str(exc) or "quote" in str(exc) or "bracket" in str(exc)
            continue
        assert code == expected_code(sources(template.render({"column": value})))
        tree = ast.parse(code)
        literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
        assert value in literals


@pytest.mark.parametrize("line", [
    "value-counts column=__import__('os')",
    "value-counts column=__import__('os').system('echo PWNED')",
    "value-counts column=exec(\"print('PWNED')\")",
    'value-counts column="x\']; print(\'PWNED\'); #"',
    'value-counts column="{{7*7}}"',
    "value-counts column=$(id)",
])
def test_code_in_values_is_never_run(kernel, line):
    value, code = kernel.magic("insert " + line)
    assert value is None
    tree = ast.parse(code)
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not calls & {"__import__", "exec", "eval", "print"}


def test_no_variable_expansion(kernel):
    """IPython expands {expr} and $name in magic lines unless the magic opts out: %datadive does."""
    kernel.shell.user_ns["secret_value"] = "SECRET"
    for typed, meant in (('"{secret_value}"', "{secret_value}"), ("$secret_value", "$secret_value"),
                         ("'{len(secret_value)}'", "{len(secret_value)}"), ('"{{x}}"', "{{x}}"),
                         ("x{secret_value}", "x{secret_value}")):
        _, code = kernel.magic(f"insert value-counts column={typed}")
        assert "SECRET" not in code and f"[{meant!r}]".replace("'", '"') in code.replace("'", '"')
    # unquoted, a value starting with a bracket must be a literal: refused, not guessed
    with pytest.raises(UsageError, match="not a complete JSON or Python literal"):
        kernel.magic("insert value-counts column={secret_value}")


@pytest.mark.parametrize("line", [
    "value-counts column=x df=__import__('os')",
    "value-counts column=x df=print",
    "value-counts column=x name=os.system",
    "value-counts column=x; import os",
])
def test_hostile_names_are_refused(kernel, line):
    reply = kernel.run("%datadive insert " + line)
    assert reply.status == "error" and reply.ename == "UsageError" and reply.traceback == []
    assert reply.next_input is None


def test_invalid_inputs_list_every_path(kernel):
    reply = kernel.run("%datadive insert stat-independent-t outcome=score alpha=2 df=1x nope=3 alternative=sideways")
    assert reply.status == "error" and reply.ename == "UsageError" and reply.traceback == []
    assert reply.next_input is None
    err = reply.stream("stderr")
    for path in ("/group: is required", "/alpha:", "/df:", "/nope: is not an input", "/alternative:"):
        assert path in err, err
    assert "inputs of stat-independent-t" in err and "Traceback" not in err


@pytest.mark.parametrize("line, message", [
    ("", "which template"),
    ("value-count column=x", "Did you mean value-counts"),
    ("value-counts column", "expected key=value"),
    ("value-counts column=x column=y", "/column: is given twice"),
    ("value-counts column=[a, b]", "/column: "),
    ('value-counts column="open', "not closed"),
    ("value-counts column=x --frob", "unknown option"),
    ("value-counts 9x=1", "/9x: is not a valid input name"),
])
def test_insert_usage_errors(kernel, line, message):
    reply = kernel.run("%datadive insert " + line)
    assert reply.status == "error" and reply.ename == "UsageError" and reply.traceback == []
    assert message in reply.stream("stderr")


# ---------------------------------------------------------------------------
# %datadive suggest
# ---------------------------------------------------------------------------


@pytest.fixture
def assistant():
    from cell_templates import assistant

    return assistant


@pytest.fixture
def scores(kernel):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"arm": ["control"] * 30 + ["treated"] * 30,
                          "score": np.round(np.r_[rng.normal(50, 10, 30), rng.normal(56, 10, 30)], 2)})
    kernel.shell.user_ns["scores"] = frame
    yield frame
    kernel.shell.user_ns.pop("scores", None)


def test_suggest_shows_a_summary_and_returns_the_result(kernel, assistant, scores):
    direct = assistant.suggest(scores, "score", between=["arm"])
    reply = kernel.run("%datadive suggest scores --outcome score --group arm")
    assert reply.status == "ok", reply.stream("stderr")
    [html] = reply.data("text/html")
    [text] = reply.data("text/plain")
    top = direct["suggestions"][0]
    assert top["title"] in text
    for piece in ("Columns", "<code>score</code>", "<code>arm</code>", "passed", "Effect size",
                  "%datadive insert " + top["template"], "--insert"):
        assert piece in html or piece.replace('"', "&quot;") in html, piece
    for col in ("score", "arm"):
        entry = direct["profile"]["columns"][col]
        assert entry["level"] in html and str(entry["reason"]).replace("'", "&#x27;") in html
    for check in top["assumptions"]:
        assert str(check["name"]).replace("'", "&#x27;") in html
    assert reply.next_input is None

    reply = kernel.run("r = %datadive suggest scores --outcome score --group arm")
    assert reply.status == "ok" and reply.data("text/html") == []
    r = kernel.shell.user_ns["r"]
    assert isinstance(r, dict) and set(r) >= {"profile", "suggestions", "design"}
    assert [s["test"] for s in r["suggestions"]] == [s["test"] for s in direct["suggestions"]]
    assert r.commands[:2] == ["%datadive insert stat-independent-t df=scores outcome=score group=arm",
                              "%datadive insert stat-welch-t df=scores outcome=score group=arm"]


def test_suggest_insert_puts_the_top_suggestion_in_the_next_cell(kernel, assistant, scores):
    direct = assistant.suggest(scores, "score", between=["arm"])
    assert [s["template"] for s in direct["suggestions"][:2]] == ["stat-independent-t", "stat-welch-t"]
    for flag, index in (("--insert", 0), ("--insert 2", 1)):
        s = direct["suggestions"][index]
        reply = kernel.run(f"%datadive suggest scores --outcome score --group arm {flag}")
        assert reply.status == "ok", reply.stream("stderr")
        # the cell the written-out command inserts
        _, expected = kernel.magic(f"insert {s['template']} df=scores outcome=score group=arm")
        assert reply.next_input == expected and expected.startswith(f"# {builtin_templates()[s['template']].title}")
        assert f"Suggestion {index + 1} was put in the next cell" in reply.data("text/html")[0]
        # the inserted command line gives the same code
        _, again = kernel.magic(reply.data("text/html")[0].split("Insert it: <code>")[index + 1].split("</code>")[0]
                                .replace("&quot;", '"').replace("&#x27;", "'").removeprefix("%datadive "))
        assert again == reply.next_input
    reply = kernel.run("%datadive suggest scores --outcome score --group arm --insert 99")
    assert reply.status == "error" and reply.ename == "UsageError" and reply.next_input is None
    assert reply.data("text/html")  # the summary is still shown


def test_suggest_inserted_code_runs(kernel, assistant, scores):
    import pingouin  # noqa: F401  (in the test extra: missing is a failure)
    import matplotlib  # noqa: F401  (in the test extra: missing is a failure)
    kernel.run("import matplotlib; matplotlib.use('Agg')")
    reply = kernel.run("%datadive suggest scores --outcome score --group arm --insert")
    code = reply.next_input
    ran = kernel.run(code)
    assert ran.status == "ok", ran.content
    assert "p_val" in kernel.shell.user_ns["result"].columns


@pytest.mark.parametrize("name", [
    "df; import os", '__import__("os")', "__import__('os').system('echo PWNED')", "1df", "os.environ",
    "scores[0]", "scores.T", "'scores'", "class", "-scores", "sc ores", "scores;", "(scores)",
])
def test_suggest_refuses_names_that_are_not_identifiers(kernel, scores, name):
    reply = kernel.run(f"%datadive suggest {name} --outcome score --group arm")
    assert reply.status == "error" and reply.ename == "UsageError" and reply.traceback == []
    err = reply.stream("stderr")
    assert "not a variable name" in err or "DataFrame's variable name first" in err or "DF" in err
    assert "PWNED" not in reply.stream("stdout")
    assert reply.next_input is None


def test_suggest_refuses_what_is_not_a_dataframe(kernel, scores):
    kernel.shell.user_ns["not_a_frame"] = [1, 2, 3]
    reply = kernel.run("%datadive suggest not_a_frame --outcome score")
    assert reply.ename == "UsageError" and "'not_a_frame' is a builtins.list, not a pandas DataFrame" in reply.stream("stderr")
    reply = kernel.run("%datadive suggest missing_frame --outcome score")
    assert reply.ename == "UsageError" and "no variable 'missing_frame'" in reply.stream("stderr")
    reply = kernel.run("%datadive suggest")
    assert reply.ename == "UsageError" and "variable name first" in reply.stream("stderr")
    reply = kernel.run("%datadive suggest scores --group arm")
    assert reply.ename == "UsageError" and "--outcome" in reply.stream("stderr")
    reply = kernel.run("%datadive suggest scores --outcome score --goal guess")
    assert reply.ename == "UsageError" and "invalid choice" in reply.stream("stderr")
    reply = kernel.run("%datadive suggest scores --outcome score --test-value abc")
    assert reply.ename == "UsageError" and "not a number" in reply.stream("stderr")


def test_suggest_design_errors_are_messages(kernel, assistant, scores):
    reply = kernel.run("%datadive suggest scores --outcome nope --group arm")
    assert reply.status == "error" and reply.ename == "UsageError" and reply.traceback == []
    err = reply.stream("stderr")
    assert "cannot analyse" in err and "/outcome" in err and "nope" in err


def test_suggest_escapes_html(kernel, assistant):
    rng = np.random.default_rng(3)
    col = "<script>alert(1)</script>"
    kernel.shell.user_ns["hostile"] = pd.DataFrame({"<b>g</b>": ["a"] * 15 + ["b"] * 15, col: rng.normal(size=30)})
    try:
        reply = kernel.run(f"%datadive suggest hostile --outcome '{col}' --group '<b>g</b>'")
        assert reply.status == "ok", reply.stream("stderr")
        [html] = reply.data("text/html")
        assert "<script>" not in html and "&lt;script&gt;" in html and "<b>g</b>" not in html
    finally:
        kernel.shell.user_ns.pop("hostile", None)


# ---------------------------------------------------------------------------
# a real kernel over ZMQ
# ---------------------------------------------------------------------------


def test_real_kernel_payload(tmp_path, monkeypatch):
    from jupyter_client.manager import start_new_kernel

    spec = tmp_path / "kernels" / "datadive-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "datadive test", "language": "python",
        "env": {"MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    km, kc = start_new_kernel(kernel_name="datadive-test", startup_timeout=60)
    try:
        def execute(code):
            reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
            return reply["content"]

        assert execute("%load_ext cell_templates")["status"] == "ok"
        content = execute("%datadive insert value-counts column=species top=3")
        assert content["status"] == "ok"
        assert content["payload"] == [{"source": "set_next_input", "replace": False,
                                       "text": expected_code(sources(builtin_templates()["value-counts"].render(
                                           {"column": "species", "top": 3})))}]
        content = execute("%datadive insert value-counts")
        assert content["status"] == "error" and content["ename"] == "UsageError" and content["payload"] == []
        content = execute("%datadive suggest df;import os --outcome y")
        assert content["status"] == "error" and content["ename"] == "UsageError"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# ---------------------------------------------------------------------------
# cell_templates.form
# ---------------------------------------------------------------------------

TEMPLATE_IDS = sorted(builtin_templates())


def _plain(value):
    return json.loads(json.dumps(value, default=lambda v: dict(v) if hasattr(v, "items") else list(v)))


@pytest.mark.parametrize("tid", TEMPLATE_IDS)
def test_form_for_every_builtin_template(tid):
    import ipywidgets as w

    from cell_templates import form
    from cell_templates.forms import TemplateForm

    template = builtin_templates()[tid]
    doc = template.to_dict()
    f = form(tid)
    assert isinstance(f, TemplateForm) and isinstance(f, w.VBox)
    props = doc["inputs"].get("properties", {})
    assert set(f.fields) == set(props)
    order = doc["ui"].get("ui:order")
    if order:
        assert list(f.fields) == [n for n in order if n in props] + [n for n in props if n not in order]
    for name, field in f.fields.items():
        schema = props[name]
        assert isinstance(field.input, w.Widget) and field.widget in f.children
        assert (schema.get("title") or name) in field.label().value
        if schema.get("description") and hasattr(field.input, "tooltip"):
            assert field.input.tooltip == schema["description"]
        if "default" in schema:  # defaults are filled
            assert f.values()[name] == schema["default"]
        elif name not in doc["inputs"].get("required", []):
            assert name not in f.values()
    # every example, filled in programmatically, gives exactly the template's render
    for example in doc["examples"]:
        f.set_values(example["inputs"])
        got = []
        f.on_submit = got.append
        f.button.click()
        assert f.errors == [], f.errors
        assert sources(f.cells) == sources(template.render(example["inputs"]))
        rendered = sources(f.cells)
        if all(kind == "markdown" for kind, _ in rendered):  # shown as a %%markdown cell
            assert f.code == "%%markdown\n" + "\n\n".join(src.strip("\n") for _, src in rendered)
        else:  # code cells in order, Markdown as comment lines between them
            def uncommented(text):
                return "\n".join(line for line in text.splitlines() if not line.startswith("#")).split()

            assert uncommented(f.code) == uncommented(expected_code(rendered))
            assert all(line.startswith("#") for line in f.code.splitlines() if line and line not in expected_code(rendered))
        assert f.output.value == f.code
        assert f.output.layout.display is None
        assert len(got) == 1 and sources(got[0]) == sources(f.cells)
        if f.command:
            assert f.command.startswith(f"%datadive insert {tid}")
            assert f.command in f.hint.value.replace("&quot;", '"').replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_form_widgets_follow_the_schema():
    import ipywidgets as w

    from cell_templates import form
    from cell_templates.forms import ObjectListField

    f = form("value-counts")
    assert isinstance(f.fields["column"].input, w.Text)
    assert isinstance(f.fields["sort"].input, w.Dropdown)
    assert [label for label, _ in f.fields["sort"].input.options] == ["most frequent first", "by value"]
    assert isinstance(f.fields["include_missing"].input, w.Checkbox) and f.fields["include_missing"].input.value is True
    top = f.fields["top"]
    assert isinstance(top.input, (w.IntText, w.BoundedIntText)) and top.enabled.value is False
    top.input.value = 7  # typing a value ticks "set"
    assert top.enabled.value is True and f.values()["top"] == 7

    g = form("group-summary")
    assert isinstance(g.fields["by"].input, w.TagsInput)
    assert isinstance(g.fields["aggs"].input, w.SelectMultiple)
    assert isinstance(form("summary-stats").fields["percentiles"].input, w.FloatsInput)
    assert isinstance(form("filter-rows").fields["conditions"], ObjectListField)
    alpha = form("stat-independent-t").fields["alpha"].input
    assert isinstance(alpha, w.BoundedFloatText) and alpha.min == 0 and alpha.max == 0.5
    if "stat-chi2-gof" in builtin_templates():
        assert isinstance(form("stat-chi2-gof").fields["expected"].input, w.Textarea)
    if "stat-friedman" in builtin_templates():
        friedman = form("stat-friedman")
        friedman.fields["outcome"].input.value = '["t1", "t2"]'
        assert friedman.values()["outcome"] == ["t1", "t2"]
        friedman.fields["outcome"].input.value = "score"
        assert friedman.values()["outcome"] == "score"
    notes = form("notes")
    assert isinstance(notes.fields["paragraphs"].input, w.Textarea)
    notes.fields["paragraphs"].input.value = "one\n\ntwo\n"
    assert notes.values()["paragraphs"] == ["one", "two"]


def test_form_shows_each_error_next_to_its_field():
    from cell_templates import form

    f = form("stat-independent-t")
    f.fields["df"].input.value = "1bad"
    f.fields["alpha"].input.value = 0.5  # exclusiveMaximum
    f.fields["outcome"].input.value = ""
    f.button.click()
    paths = {e["path"] for e in f.errors}
    assert paths == {"/df", "/alpha", "/outcome", "/group"}
    for name in ("df", "alpha", "outcome", "group"):
        assert f.fields[name].error.value and f.fields[name].error.layout.display is None
    assert "is required" in f.fields["group"].error.value
    assert not f.fields["result"].error.value and f.fields["result"].error.layout.display == "none"
    assert f.cells is None and f.code is None and f.output.layout.display == "none"
    assert "4 problems" in f.status.value

    f.set_values({"outcome": "score", "group": "arm"})
    cells = f.generate()
    assert f.errors == [] and cells is not None and not f.fields["df"].error.value
    assert sources(cells) == sources(builtin_templates()["stat-independent-t"].render({"outcome": "score", "group": "arm"}))


def test_form_nested_errors_and_list_items():
    from cell_templates import form

    f = form("filter-rows")
    conditions = f.fields["conditions"]
    first = conditions.add()
    second = conditions.add()
    first.fields["column"].input.value = "a"
    second.fields["column"].input.value = ""
    second.fields["op"].input.value = second.fields["op"].values.index(">")
    f.button.click()
    assert "/conditions/1/column" in {e["path"] for e in f.errors}
    assert second.fields["column"].error.value and not first.fields["column"].error.value
    conditions.remove(first)  # the second item becomes item 0
    f.button.click()
    assert "/conditions/0/column" in {e["path"] for e in f.errors}
    assert second.fields["column"].error.value
    second.fields["column"].input.value = "x"
    second.fields["value"].input.value = "3"
    assert f.generate() is not None
    assert f.values()["conditions"] == [{"column": "x", "op": ">", "value": 3}]


def test_form_parse_errors_and_hostile_text():
    from cell_templates import form

    if "stat-chi2-gof" in builtin_templates():
        f = form("stat-chi2-gof")
        f.set_values({"outcome": "colour"})
        f.fields["expected"].input.value = "{bad"
        f.button.click()
        assert [e["path"] for e in f.errors] == ["/expected"] and "JSON" in f.fields["expected"].error.value

    f = form("value-counts")
    hostile = "x']; import os; os.system('id'); #"
    f.set_values({"column": hostile})
    code = "".join(src for kind, src in sources(f.generate()) if kind == "code")
    tree = ast.parse(code)
    assert hostile in [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert not any(isinstance(n, ast.Import) for n in ast.walk(tree))


def test_form_command_inserts_the_same_code(kernel):
    from cell_templates import form

    f = form("group-summary")
    f.set_values({"by": ["species", "island"], "values": ["body mass"], "aggs": ["mean", "max"], "decimals": 1})
    f.generate()
    _, code = kernel.magic(f.command.removeprefix("%datadive "))
    assert code == f.code


def test_form_on_submit_errors_are_shown_and_bad_arguments():
    from cell_templates import form

    def boom(cells):
        raise RuntimeError("kaput")

    f = form(builtin_templates()["value-counts"], on_submit=boom)
    f.set_values({"column": "x"})
    assert f.generate() is not None
    assert "on_submit failed" in f.status.value and "kaput" in f.status.value
    with pytest.raises(KeyError):
        form("no-such-template")
    with pytest.raises(TypeError):
        form(42)
    with pytest.raises(KeyError):
        f.set_values({"nope": 1})
