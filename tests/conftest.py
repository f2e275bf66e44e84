"""The tests' plugins: pytest-jupyter's real server, then Datadive's fixtures (``datadive_fixtures``).

Helpers live in ``datadive_testing`` and are imported by name from there
(``from datadive_testing import assert_error``), never from this file.
"""

import pytest

# Rich assertion messages in the shared helpers, as in a test module.
pytest.register_assert_rewrite("datadive_testing")

pytest_plugins = ["pytest_jupyter.jupyter_server", "datadive_fixtures"]

