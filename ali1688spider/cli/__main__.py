"""``python -m ali1688spider.cli``: the ``ali1688`` command."""

import sys

from ali1688spider.cli.main import main

sys.exit(main())
