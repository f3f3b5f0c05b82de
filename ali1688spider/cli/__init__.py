"""The ``ali1688`` command: ``main`` and one module per sub-command."""

from ali1688spider.cli.main import main

__all__ = ["main"]
