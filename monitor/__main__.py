"""``python -m monitor``: the same command line as the ``monitor`` console script."""

import sys

from monitor.cli import main

sys.exit(main())
