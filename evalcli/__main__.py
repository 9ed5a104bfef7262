"""``python -m evalcli``."""

from evalcli.cli import main

main()
