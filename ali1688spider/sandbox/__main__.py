"""``python -m ali1688spider.sandbox``."""

import sys

from ali1688spider.sandbox.cli import main

sys.exit(main())
