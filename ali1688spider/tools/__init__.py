"""The ``ali1688`` sub-commands other than the sandbox: one module per command (see ``cli``)."""
