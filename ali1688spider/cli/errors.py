"""The error every ``ali1688`` command raises for a failure the user can fix."""


class CommandError(Exception):
    """A command failed in a way the user can fix; the message is printed as one line and the
    command exits with *status* (1; 2 for what is missing before the command can even start)."""

    def __init__(self, message: str, *, status: int = 1):
        super().__init__(message)
        self.status = status
