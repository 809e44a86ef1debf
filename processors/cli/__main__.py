"""`python -m processors.cli`: the same as the `wabahook` command."""

from processors.cli import main

main()
