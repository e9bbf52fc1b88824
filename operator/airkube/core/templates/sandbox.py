"""The Jinja environment every template is compiled in: Jinja's immutable sandbox with
StrictUndefined, airkube's filters, and limits on what a template may cost; plus the one
way an error of a template is told (:func:`describe`).

The limits: repeating a string or list past a size, huge numbers as exponents, widths and
padding, output past :data:`MAX_RENDERED_LENGTH` (counted while it is produced), and loops
past :data:`MAX_LOOP_ITERATIONS` iterations in all (every ``{% for %}`` is compiled to
iterate through :func:`_loop_guard`). What they do not cover (CPU spent in one filter
call, say) is issue 15's.
"""

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn, Protocol, runtime_checkable

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateNotFound
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from airkube.core.cron import zone

CONTEXT_NAMES = (
    "ds",
    "ds_nodash",
    "ts",
    "ts_nodash",
    "ts_nodash_with_tz",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "run_id",
    "dag",
    "task",
    "try_number",
    "params",
    "tasks",
)
"""Every name a template can read (see :mod:`airkube.core.templates`)."""

MAX_RENDERED_LENGTH = 128 * 1024
"""The longest a rendered value may be (a pod's whole spec must stay well under 1.5 MiB)."""
MAX_LOOP_ITERATIONS = 1_000_000
"""The most iterations all the ``{% for %}`` loops of one rendering may make together."""
_MAX_SIZE = 1_000_000
"""The largest repetition, width or exponent a template may ask for."""
_MARKERS = ("{{", "{%", "{#")
_BIG_WIDTH = re.compile(r"[0-9]{7,}")


def is_template(text: str) -> bool:
    """Whether ``text`` holds Jinja syntax (else it is used as it is)."""
    return any(marker in text for marker in _MARKERS)


def suggest(name: str, known: Collection[str]) -> str:
    """`` (did you mean "x"?)`` for the known name closest to ``name``, else ``""``."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _refuse(message: str) -> NoReturn:
    raise SecurityError(message)


_LOOP_GUARD = "airkube_loop_guard"
_loops_left: ContextVar[list[int]] = ContextVar("airkube_template_loops_left")


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` iterates through: counts the iterations of a rendering."""
    left = _loops_left.get()
    for item in iterable:
        left[0] -= 1
        if left[0] < 0:
            _refuse(f"templates may loop at most {MAX_LOOP_ITERATIONS} times")
        yield item


@runtime_checkable
class Namespace(Protocol):
    """A value of the context that holds names (``params``, ``tasks``): says what a name
    missing from it means."""

    def describe_missing(self, name: str) -> str: ...


class _Undefined(StrictUndefined):
    """StrictUndefined whose messages name the variable and suggest the right one."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        hint: str | None = self._undefined_hint
        if hint:
            return hint
        name = self._undefined_name
        owner = self._undefined_obj
        if owner is missing:
            return f'"{name}" is undefined{suggest(str(name), CONTEXT_NAMES)}'
        if isinstance(owner, Namespace):
            return owner.describe_missing(str(name))
        message: str = super()._undefined_message
        return message


def _check_size(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SIZE:
        _refuse(f"the number {value} is too large for a template")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no internals, no mutation of values) with airkube's
    limits (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                repeated = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if repeated and len(seq) * times > MAX_RENDERED_LENGTH:
                    _refuse("repeating a value that many times is not allowed in a template")
        elif operator == "**":
            _check_size(right)
            big = isinstance(right, int) and right > 10_000
            if big and isinstance(left, int | float) and abs(left) > 1:
                _refuse("an exponent that large is not allowed in a template")
        elif operator == "%" and isinstance(left, str) and _BIG_WIDTH.search(left):
            _refuse("a format width that large is not allowed in a template")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        for value in (*args, *kwargs.values()):
            _check_size(value)
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        formats = isinstance(obj, str) and attribute in ("format", "format_map")
        if formats and _BIG_WIDTH.search(obj):
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)


def _in_timezone(value: datetime, name: str) -> datetime:
    return value.astimezone(zone(name))


def _checked_filter(filter_function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            _check_size(value)
        return filter_function(*args, **kwargs)

    return checked


def _environment() -> _Sandbox:
    env = _Sandbox(undefined=_Undefined, keep_trailing_newline=True, autoescape=False)
    for name in ("center", "indent", "wordwrap", "truncate", "batch", "slice"):
        env.filters[name] = _checked_filter(env.filters[name])
    original_format = env.filters["format"]

    def checked_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and _BIG_WIDTH.search(value):
            _refuse("a format width that large is not allowed in a template")
        return original_format(value, *args, **kwargs)

    env.filters["format"] = checked_format
    env.filters["in_timezone"] = _in_timezone
    del env.globals["lipsum"]  # lorem ipsum: of no use in a command, and a memory hog
    env.globals[_LOOP_GUARD] = _loop_guard
    return env


ENV = _environment()
"""The one environment: templates have no loader (nothing to include or extend)."""

GLOBAL_NAMES = frozenset(name for name in ENV.globals if name != _LOOP_GUARD)
"""The functions every template may call (``range``, ``dict``, ``cycler``…)."""


def parse(source: str) -> nodes.Template:
    """The syntax tree of ``source``; raises what Jinja raises for a syntax error."""
    return ENV.parse(source)


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """``source`` compiled, its loops guarded. Raises for syntax errors and unknown
    filters or tests (Jinja finds those while compiling)."""
    tree = ENV.parse(source)
    for loop in list(tree.find_all(nodes.For)):
        guard = nodes.Name(_LOOP_GUARD, "load", lineno=loop.lineno)
        loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
    return ENV.template_class.from_code(ENV, ENV.compile(tree), ENV.make_globals(None), None)


class TooLongError(Exception):
    """The rendered value grew past MAX_RENDERED_LENGTH."""

    def __str__(self) -> str:
        return f"the rendered value is longer than the limit of {MAX_RENDERED_LENGTH} characters"


def generate(template: Template, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context`` under the loop and length limits."""
    token = _loops_left.set([MAX_LOOP_ITERATIONS])
    try:
        parts: list[str] = []
        length = 0
        for part in template.generate(context):
            length += len(part)
            if length > MAX_RENDERED_LENGTH:
                raise TooLongError
            parts.append(part)
        return "".join(parts)
    finally:
        _loops_left.reset(token)


NO_LOADER = "templates cannot include, import or extend other templates"
_UNKNOWN_FILTER_OR_TEST = re.compile(r"^No (filter|test) named '([^']*)'")


def _unknown_name(kind: str, name: str) -> str:
    known = ENV.filters if kind == "filter" else ENV.tests
    return f'unknown {kind} "{name}"{suggest(name, known)}'


def unknown_filter(name: str) -> str:
    """What an unknown filter ``name`` is told as."""
    return _unknown_name("filter", name)


def unknown_test(name: str) -> str:
    """What an unknown test (``x is name``) is told as."""
    return _unknown_name("test", name)


def describe(exc: BaseException) -> str:
    """One line saying what is wrong, whatever ``exc`` is (never a traceback)."""
    if isinstance(exc, TemplateError):
        # Unknown filters are found while compiling, unknown tests in a condition only when
        # it is evaluated: the same message either way.
        unknown = _UNKNOWN_FILTER_OR_TEST.match(exc.message or "")
        if unknown:
            return _unknown_name(unknown.group(1), unknown.group(2))
    if isinstance(exc, TemplateNotFound) or (
        isinstance(exc, TypeError) and "no loader" in str(exc)
    ):
        return NO_LOADER
    if isinstance(exc, TemplateSyntaxError):
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"not allowed: {exc}"
    if isinstance(exc, TemplateError):
        return str(exc.message or type(exc).__name__)
    if isinstance(exc, RecursionError):
        return "the template nests or recurses too deeply"
    if isinstance(exc, MemoryError):
        return "the template needs too much memory"
    if isinstance(exc, TooLongError):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
