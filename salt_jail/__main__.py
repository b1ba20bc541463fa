"""``python -m salt_jail formula-path`` and friends: see :mod:`salt_jail.cli`."""

import sys

from salt_jail.cli import main

sys.exit(main())
