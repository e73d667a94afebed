"""``python -m codescaler``: the same command as ``codescaler``."""

import sys

from codescaler.cli import main

sys.exit(main())
