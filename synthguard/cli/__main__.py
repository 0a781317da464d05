"""`python -m synthguard.cli`: the same as the `synthguard` command."""

from . import main

main()
