"""``python -m xle.cli``: the same program as the ``xle`` console script."""

from xle.cli import main

main()
