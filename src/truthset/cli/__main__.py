"""``python -m truthset.cli``: the same as the ``truthset`` command."""

from truthset.cli import main

main()
