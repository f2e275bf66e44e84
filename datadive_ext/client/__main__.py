"""``python -m datadive_ext.client``: the ``datadive`` command line."""

from .cli import main

main()
