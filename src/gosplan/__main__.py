"""``python -m gosplan``: the ``gosplan`` command."""

from gosplan.cli.app import main

main()
