"""``python -m bcb2b_async`` runs the ``bcb2b`` command line."""

import sys

from .cli import main

sys.exit(main())
