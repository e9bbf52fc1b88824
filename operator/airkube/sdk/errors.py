"""The error a DAG file's author made, and where they made it."""

from airkube.sdk.locations import Location


class DAGDefinitionError(Exception):
    """A DAG, task or group defined wrongly (a bad field, a duplicate task, a self-loop…).

    Raised while the user's code runs, at the call that is wrong: the loader finds the
    user's line in the traceback. ``location`` is set when the error is found later (when
    the DAG is rendered), to point at the definition concerned.
    """

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
