"""Templates in a task's command, args and env values: Jinja2, sandboxed, StrictUndefined,
with Airflow's names.

What a template can read (datetimes are aware, in UTC, as Airflow's are):

============================  ==========================================================
``ds`` / ``ds_nodash``        the logical date, ``2026-11-24`` / ``20261124``
``ts`` / ``ts_nodash``        ``2026-11-24T00:00:00+00:00`` / ``20261124T000000``
``ts_nodash_with_tz``         ``20261124T000000+0000``
``logical_date``              the logical date (``{{ logical_date.strftime('%Y') }}``)
``data_interval_start/end``   the run's data interval
``run_id``                    the DAGRun's name
``dag`` / ``task``            the DAG's and the task's names
``try_number``                the try being started, from 1
``params``                    the run's params (``{{ params.table }}``)
``tasks``                     ``{{ tasks.extract.output }}``: what task extract wrote to
                              /dev/termination-log
============================  ==========================================================

plus the filter ``in_timezone`` (``{{ logical_date | in_timezone('Europe/Paris') }}``).
Only strings holding ``{{``, ``{%`` or ``{#`` are templates; others are left as they are.

The package, by job:

- :mod:`.sandbox`: the one Jinja environment (the sandbox, its limits, airkube's filters)
  and how any error of a template is told in one line;
- :mod:`.rendering`: the context, rendering a string and a task, the planner's renderer
  of a run (a template that cannot render raises
  :class:`~airkube.core.model.render.RenderError`: the task fails without a pod);
- :mod:`.preview`: ``airkube render-task``'s preview of a task without a run;
- :mod:`.checks`: the templates that can never render, for DAG validation.

It does not know the planner: the planner calls it through
:class:`~airkube.core.model.render.Renderer`.
"""

from airkube.core.model.render import Renderer, RenderError

from .checks import TemplateProblem, check_template, template_problems
from .preview import RenderedTask, render_task_preview
from .rendering import make_renderer, render_string, render_task, run_renderer, template_context
from .sandbox import CONTEXT_NAMES, MAX_LOOP_ITERATIONS, MAX_RENDERED_LENGTH, is_template

__all__ = [
    "CONTEXT_NAMES",
    "MAX_LOOP_ITERATIONS",
    "MAX_RENDERED_LENGTH",
    "RenderError",
    "RenderedTask",
    "Renderer",
    "TemplateProblem",
    "check_template",
    "is_template",
    "make_renderer",
    "render_string",
    "render_task",
    "render_task_preview",
    "run_renderer",
    "template_context",
    "template_problems",
]
