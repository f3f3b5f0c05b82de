"""The error every ``ali1688`` command raises for a failure the user can fix."""


class CommandError(Exception):
    """A command failed in a way the user can fix; the message is printed as one line."""
