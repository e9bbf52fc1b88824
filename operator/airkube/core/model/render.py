"""The seam between the planner and templating: a renderer of a task's templates for one
try, and the error it raises."""

from collections.abc import Mapping
from typing import Protocol

from airkube.api.dagrun import TaskStatus
from airkube.core.resolve import ResolvedTask


class RenderError(Exception):
    """A task's templates cannot be rendered; the message says why. The task fails
    without a pod (retrying would render the same templates)."""


class Renderer(Protocol):
    """Renders a task's templates (command, args, env) for one try: issue 5's seam.

    ``tasks`` holds the states of every task of the run (their outputs included).
    """

    def __call__(
        self, task: ResolvedTask, try_number: int, tasks: Mapping[str, TaskStatus]
    ) -> ResolvedTask: ...
