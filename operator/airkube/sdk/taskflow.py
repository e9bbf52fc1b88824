"""``@task``: a Python function as a task, as Airflow's TaskFlow API.

The function's own source (decorators stripped) is shipped in the task's command, followed
by a call to it: ``python -c SCRIPT ARGS...`` in the image given. The operator never runs
the user's code; the task's pod does. Calling the decorated function inside a DAG makes
the task; its arguments become the call's:

- literals (str, numbers, bools, None, lists, dicts, tuples of them) are written in the call;
- strings with templates (``"{{ ds }}"``, ``"{{ params.table }}"``) are passed as the
  pod's args, rendered when the try starts, and arrive as strings;
- a task (or its ``.output``) passes that task's output and makes it upstream: the value a
  ``@task`` function returned (JSON-decoded), or the text a container task wrote to
  /dev/termination-log;
- parameters named ``ds``, ``ds_nodash``, ``ts``, ``ts_nodash``, ``ts_nodash_with_tz``,
  ``run_id``, ``try_number``, ``logical_date``, ``data_interval_start`` or
  ``data_interval_end`` that the call leaves out get the run's values, as Airflow's context
  (``try_number`` an int, the last three datetimes).

What the function returns, unless None, is written as JSON to /dev/termination-log: the
task's output (at most 4 KiB).

Limits: only the function's own source is shipped. It must import what it uses inside its
body (a module-level import, constant or helper is not there in the pod: using one is an
error as soon as the function is decorated), use no variables of an enclosing function,
and run with the image's Python and packages; other decorators on it are not shipped.
"""

from __future__ import annotations

import ast
import builtins
import dis
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping
from types import CodeType
from typing import Any, overload

from airkube.sdk.dag import current_dag
from airkube.sdk.errors import DAGDefinitionError
from airkube.sdk.locations import Location, caller_location
from airkube.sdk.settings import DEFAULT_ARGS, check_keys
from airkube.sdk.tasks import Task, TaskOutput

DECORATOR_SETTINGS = frozenset({*DEFAULT_ARGS, "task_id", "python"})
"""What ``@task(...)`` takes: the task settings, the task's id and the Python to run."""

CONTEXT = {
    "ds": ("{{ ds }}", "str"),
    "ds_nodash": ("{{ ds_nodash }}", "str"),
    "ts": ("{{ ts }}", "str"),
    "ts_nodash": ("{{ ts_nodash }}", "str"),
    "ts_nodash_with_tz": ("{{ ts_nodash_with_tz }}", "str"),
    "run_id": ("{{ run_id }}", "str"),
    "try_number": ("{{ try_number }}", "int"),
    "logical_date": ("{{ ts }}", "datetime"),
    "data_interval_start": ("{{ data_interval_start.isoformat() }}", "datetime"),
    "data_interval_end": ("{{ data_interval_end.isoformat() }}", "datetime"),
}
"""Parameters filled from the run when the call leaves them out: (template, decoding)."""

_TEMPLATE_MARKERS = ("{{", "{%", "{#")
_OUTPUT_PATH = '_airkube_os.environ.get("AIRKUBE_OUTPUT", "/dev/termination-log")'


def _is_template(text: str) -> bool:
    return any(marker in text for marker in _TEMPLATE_MARKERS)


def _code_objects(code: CodeType) -> Iterator[CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _code_objects(const)


def _module_names(function: Callable[..., Any]) -> list[str]:
    """Names the function reads from its module (which the pod does not have)."""
    loaded: dict[str, None] = {}
    stored: set[str] = set()
    for code in _code_objects(function.__code__):
        for instruction in dis.get_instructions(code):
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                loaded[str(instruction.argval)] = None
            elif instruction.opname in ("STORE_GLOBAL", "STORE_NAME"):
                stored.add(str(instruction.argval))
    allowed = {*vars(builtins), *stored, function.__name__}
    return [name for name in loaded if name not in allowed]


def function_source(function: Callable[..., Any]) -> str:
    """The function's source, dedented, without its decorators; checked to be shippable."""
    function = inspect.unwrap(function)  # under other decorators (which are not shipped)
    name = getattr(function, "__name__", repr(function))
    if not inspect.isfunction(function):
        raise DAGDefinitionError(f"@task: {name} is not a function")
    if name == "<lambda>":
        raise DAGDefinitionError("@task: a lambda cannot be a task; define a function with def")
    if function.__code__.co_freevars:
        names = ", ".join(function.__code__.co_freevars)
        raise DAGDefinitionError(
            f"@task: {name} uses variables of an enclosing function ({names}), which are not "
            "shipped to the pod: only the function's own source is"
        )
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise DAGDefinitionError(f"@task: cannot read the source of {name}: {exc}") from None
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise DAGDefinitionError(f"@task: cannot parse the source of {name}: {exc}") from None
    definition = next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        ),
        None,
    )
    if definition is None:
        raise DAGDefinitionError(f"@task: cannot find the definition of {name} in its source")
    lines = source.splitlines()[definition.lineno - 1 : definition.end_lineno]
    globals_used = _module_names(function)
    if globals_used:
        raise DAGDefinitionError(
            f"@task: {name} uses {', '.join(globals_used)} from its module, which is not "
            "shipped to the pod (only the function's own source is): import or define "
            f"{'it' if len(globals_used) == 1 else 'them'} inside the function"
        )
    return "\n".join(lines) + "\n"


def _literal(value: Any) -> str | None:
    """``value`` as a Python literal, or None when it cannot be written as one."""
    if isinstance(value, float) and value != value:  # NaN is not equal to itself
        return None
    text = repr(value)
    try:
        if ast.literal_eval(text) == value:
            return text
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    return None


class _ContextValue:
    """A parameter the run's context fills (``ds``, ``run_id``…)."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Call:
    """The call to the function in the script, and the pod args it reads."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.imports: set[str] = set()

    def passed(self, text: str, decoding: str) -> str:
        """An expression reading ``text`` (rendered by airkube) from the pod's args.

        A :class:`TaskOutput` stays one in the args, so the task depends on its writer.
        """
        self.args.append(text)
        read = f"_airkube_argv[{len(self.args) - 1}]"
        if decoding == "json":
            self.imports.add("json")
            return f"_airkube_json.loads({read})"
        if decoding == "int":
            return f"int({read})"
        if decoding == "datetime":
            self.imports.add("datetime")
            return f"_airkube_datetime.datetime.fromisoformat({read})"
        return read

    def expression(self, function: str, label: str, value: Any) -> str:
        """The call's argument ``label value`` (label: "" or "name=") as an expression."""
        if isinstance(value, _ContextValue):
            template, decoding = CONTEXT[value.name]
            return self.passed(template, decoding)
        if isinstance(value, Task):
            value = value.output
        if isinstance(value, TaskOutput):
            return self.passed(value, "json" if value.task.output_is_json else "str")
        if isinstance(value, str) and _is_template(value):
            return self.passed(value, "str")
        literal = _literal(value)
        if literal is None:
            raise DAGDefinitionError(
                f"{function}(): argument {label}{value!r} cannot be shipped to the pod: "
                "pass literals (str, numbers, bools, None, lists, dicts), templates such as "
                '"{{ params.table }}", or tasks (their output)'
            )
        return literal


def build_script(
    source: str, function: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[str, list[str]]:
    """The script (the source, then the call) and the pod args it reads."""
    name = function.__name__
    signature = inspect.signature(function)
    given = dict(kwargs)
    try:
        passed = signature.bind_partial(*args, **given).arguments
    except TypeError as exc:
        raise DAGDefinitionError(f"{name}(): {exc}") from None
    for parameter in signature.parameters.values():
        if (
            parameter.name in CONTEXT
            and parameter.name not in passed
            and parameter.kind is not inspect.Parameter.POSITIONAL_ONLY
        ):
            given[parameter.name] = _ContextValue(parameter.name)
    try:
        signature.bind(*args, **given)
    except TypeError as exc:
        raise DAGDefinitionError(f"{name}(): {exc}") from None
    # The call as written (positional arguments, then keywords), context values last.
    call = _Call()
    parts = [call.expression(name, "", value) for value in args]
    parts += [f"{key}={call.expression(name, f'{key}=', value)}" for key, value in given.items()]
    invocation = f"{name}({', '.join(parts)})"
    if inspect.iscoroutinefunction(function):
        call.imports.add("asyncio")
        invocation = f"_airkube_asyncio.run({invocation})"
    imports = ", ".join(f"{m} as _airkube_{m}" for m in sorted({*call.imports, "json", "os"}))
    script = (
        "from __future__ import annotations\n\n"
        f"{source}\n\n"
        f"# Added by airkube: call {name} and write what it returns, as JSON, to the task's "
        "output.\n"
        f"import sys as _airkube_sys, {imports}\n"
        "_airkube_argv = _airkube_sys.argv[1:]\n"
        f"_airkube_result = {invocation}\n"
        "if _airkube_result is not None:\n"
        f'    with open({_OUTPUT_PATH}, "w") as _airkube_file:\n'
        "        _airkube_json.dump(_airkube_result, _airkube_file)\n"
    )
    if _is_template(script):
        # The command is a template when it holds Jinja markers: keep the source as it is.
        if "{% endraw %}" in script:
            raise DAGDefinitionError(f"@task: the source of {name} cannot contain {{% endraw %}}")
        script = "{% raw %}" + script + "{% endraw %}"
    return script, call.args


class TaskFunction:
    """A function decorated with ``@task``: calling it in a DAG makes a task running it.

    ``function`` is the plain function (to test it locally); ``override(...)`` gives the
    same with other settings (``extract.override(task_id="extract-eu")("eu")``).
    """

    def __init__(
        self, function: Callable[..., Any], settings: Mapping[str, Any], location: Location | None
    ) -> None:
        check_keys("@task", settings, DECORATOR_SETTINGS)
        self.function = function
        self.settings = dict(settings)
        self.location = location
        self.source = function_source(function)
        self.__name__ = function.__name__
        self.__doc__ = function.__doc__

    def __repr__(self) -> str:
        return f"<@task {self.function.__name__}>"

    def override(self, **settings: Any) -> TaskFunction:
        return TaskFunction(self.function, {**self.settings, **settings}, self.location)

    def __call__(self, *args: Any, **kwargs: Any) -> Task:
        dag = current_dag()
        name = self.function.__name__
        if dag is None:
            raise DAGDefinitionError(
                f"{name}() makes a task, so it must be called inside `with DAG(...):`; call "
                f"{name}.function() to run the function itself"
            )
        settings = dict(self.settings)
        task_id = settings.pop("task_id", None) or name.replace("_", "-")
        python = settings.pop("python", None) or "python"
        unique, number = task_id, 0
        while dag.child_name(unique) in dag.task_dict:
            number += 1
            unique = f"{task_id}-{number}"
        script, argv = build_script(self.source, self.function, args, kwargs)
        made = Task(unique, command=[python, "-c", script], args=argv or None, dag=dag, **settings)
        made.output_is_json = True
        return made


@overload
def task(function: Callable[..., Any], /) -> TaskFunction: ...


@overload
def task(
    function: None = None, /, **settings: Any
) -> Callable[[Callable[..., Any]], TaskFunction]: ...


def task(function: Callable[..., Any] | None = None, /, **settings: Any) -> Any:
    """Make a Python function a task (Airflow's ``@task``)::

        @task(image="python:3.12-slim", retries=2)
        def extract(table: str, ds: str) -> dict:
            import json
            return {"table": table, "day": ds}

    ``settings`` are :class:`Task`'s (image, retries, env, resources…) plus ``task_id``
    (default: the function's name, ``_`` read as ``-``) and ``python`` (the interpreter in
    the image, default ``python``). See the module's documentation for the arguments and
    the limits.
    """
    location = caller_location()
    if function is not None:
        return TaskFunction(function, settings, location)

    def decorate(inner: Callable[..., Any]) -> TaskFunction:
        return TaskFunction(inner, settings, location)

    return decorate
