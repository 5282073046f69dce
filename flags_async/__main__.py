"""`python -m flags_async`: the same as the `flags-async` command."""

import sys

from .cli import main

sys.exit(main())
