"""Allow ``python -m relcheck``."""

from relcheck.entry import main

main()
