"""A corpus of hostile strings for the cell-template security tests.

Each entry is ``(id, value)``. The ids are used as pytest parameter ids, so the
values themselves (some of them 100 000 characters long, some holding NUL or
lone surrogates) never end up in test names.

Every value is a string that could arrive from a form through JSON (lone
surrogates do survive ``json.loads``, see ``test_corpus_survives_json``). None
of them is an acceptable Python variable name, so the ``ident`` filter must
refuse every one.
"""

from __future__ import annotations

HOSTILE_STRINGS: list[tuple[str, str]] = [
    # -- quote breaking -----------------------------------------------------
    ("single-quote", "'"),
    ("double-quote", '"'),
    ("triple-single", "'''"),
    ("triple-double", '"""'),
    ("quote-then-code", "'; import os; '"),
    ("dquote-then-code", '"); import os; ("'),
    ("triple-single-break", "''' + __import__('os').system('id') + '''"),
    ("triple-double-break", '""" + __import__("os").system("id") + """'),
    ("mixed-quotes", "'\"'''\"\"\"'"),
    ("many-quotes", "'" * 3001 + '"' * 3001),
    # -- newline plus code ----------------------------------------------------
    ("lf-import", "\nimport os"),
    ("crlf-system", "\r\nos.system('x')"),
    ("cr-import", "\rimport os"),
    ("multi-line-code", "x\nimport os\nos.system('id')\n"),
    ("comment-then-code", "# comment\nimport os"),
    ("indent-code", "\t\tindented\n\tos.system('id')"),
    ("bare-cr", "\r"),
    # -- backslash tricks -----------------------------------------------------
    ("trailing-backslash", "abc\\"),
    ("backslash-quote", "\\'"),
    ("backslash-dquote", '\\"'),
    ("backslash-newline", "\\\n"),
    ("backslash-crlf", "\\\r\n"),
    ("escape-text-x27", "\\x27; import os"),
    ("escape-text-u0027", "\\u0027"),
    ("escape-text-N", "\\N{APOSTROPHE}"),
    ("windows-path", "C:\\Users\\new\\table.csv"),
    ("unc-path-trailing", "\\\\server\\share\\"),
    ("odd-backslashes", "\\" * 4097),
    # -- code and format strings --------------------------------------------------
    ("dunder-import", "__import__('os').system('id')"),
    ("fstring-braces", "{__import__('os')}"),
    ("double-braces", "{{7*7}}"),
    ("format-attr", "{0.__class__}"),
    ("percent-format", "%s%s%n%(x)s"),
    ("close-paren-exec", "); exec('x'); ("),
    ("close-bracket-exec", "]; exec('x'); ["),
    ("close-brace-exec", "}; exec('x'); {"),
    ("semicolon-import", "; import os"),
    ("two-statements", "x = 1; y = 2"),
    ("string-prefix", "rb'x' f'{x}'"),
    ("shell", "$(rm -rf /) `id`"),
    # -- Jinja delimiters in values ---------------------------------------------
    ("jinja-expr", "{{ ''.__class__ }}"),
    ("jinja-for", "{% for x in range(3) %}x{% endfor %}"),
    ("jinja-comment", "{# c #}"),
    ("jinja-raw", "{% raw %}{{ v }}{% endraw %}"),
    ("jinja-line-statement", "\n# for x in y\n"),
    # -- unicode line separators and control characters --------------------------
    ("u2028", "\u2028import os"),
    ("u2029", "\u2029import os"),
    ("nel-x85", "\x85import os"),
    ("vt-x0b", "\x0bimport os"),
    ("ff-x0c", "\x0cimport os"),
    ("fs-x1c", "\x1cimport os"),
    ("nul-inside", "a\x00b"),
    ("nul-only", "\x00"),
    ("ansi-escape", "\x1b[31mred\x1b[0m"),
    ("del-x7f", "\x7f"),
    ("bom", "\ufeffx"),
    ("zero-width", "a\u200bb"),
    ("combining", "a\u0301"),
    # -- surrogates and bidi -------------------------------------------------------
    ("lone-high-surrogate", "\ud800"),
    ("lone-low-surrogate", "x\udfffy"),
    ("bidi-override", "admin\u202e \u2066# check\u2069 \u2066"),
    ("bidi-rlo-code", "\u202e)'x'(metsys.so"),
    # -- lookalikes ---------------------------------------------------------------
    ("fullwidth", "\uff49\uff4d\uff50\uff4f\uff52\uff54 \uff4f\uff53"),
    ("cyrillic-a", "p\u0430ndas"),
    ("ligature-fi", "\ufb01le"),
    ("emoji", "\U0001f600 data"),
    # -- names a variable must not get -----------------------------------------
    ("builtin-name", "print"),
    ("dunder-name", "__builtins__"),
    ("keyword", "True"),
    ("soft-keyword", "match"),
    ("underscore", "_"),
    ("trailing-newline-name", "df\n"),
    ("name-then-code", "df; import os"),
    ("leading-digit", "0day"),
    ("too-long-name", "a" * 65),
    # -- Markdown / HTML --------------------------------------------------------------
    ("script-tag", "<script>alert(1)</script>"),
    ("img-onerror", "<img src=x onerror=alert(1)>"),
    ("heading", "# Heading"),
    ("newline-heading", "\n# Heading"),
    ("setext-underline", "==="),
    ("md-link", "[click](javascript:alert(1))"),
    ("html-entity", "&lt;b&gt;"),
    ("math", "$x$"),
    # -- sizes and edges --------------------------------------------------------------
    ("very-long", "x" * 100_000),
    ("many-newlines", "\n" * 5000),
    ("empty", ""),
    ("space", " "),
    ("hash-only", "#"),
]

HOSTILE_VALUES: list[str] = [v for _, v in HOSTILE_STRINGS]
HOSTILE_IDS: list[str] = [k for k, _ in HOSTILE_STRINGS]

assert len(set(HOSTILE_IDS)) == len(HOSTILE_IDS), "corpus ids must be unique"
