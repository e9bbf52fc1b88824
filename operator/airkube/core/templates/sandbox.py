"""The Jinja environment every template is compiled in: Jinja's immutable sandbox with
StrictUndefined, airkube's filters, and limits on what a template may cost; plus the one
way an error of a template is told (:func:`describe`).

The limits, each a refusal naming it (a :class:`~jinja2.exceptions.SecurityError`, told
by :func:`describe` as ``not allowed: …``), checked through the sandbox's own hooks
(``call_binop`` for ``+ * ** %``, ``call`` for methods, ``finalize`` for each printed
value, wrapped filters) *before* the work is done, so no single operation can take long
or much memory:

- size: no string, list or printed value past :data:`MAX_RENDERED_LENGTH` characters,
  whether made by repeating (``*``), concatenating (``+``, ``~``), ``replace``, ``join``,
  ``format``, ``%``, padding or printing a deeply shared structure; the output as a whole
  is counted while it is produced;
- integers: no ``*`` or ``**`` whose result has more than :data:`MAX_INTEGER_BITS` bits
  (about 4,000 digits);
- loops: past :data:`MAX_LOOP_ITERATIONS` iterations in all (every ``{% for %}`` is
  compiled to iterate through :func:`_loop_guard`);
- time: a rendering (or all of a task's, see :func:`time_limit`) that has run for
  :data:`MAX_RENDER_SECONDS` stops at its next loop iteration, operator, method or
  filter call.
"""

import functools
import math
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn, Protocol, TypeGuard, runtime_checkable

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateNotFound
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from airkube.core.cron import zone
from airkube.core.suggest import suggest

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
MAX_INTEGER_BITS = 13_288
"""The largest integer a template may compute, in bits (2**13288 has 4,001 digits)."""
MAX_RENDER_SECONDS = 1.0
"""The longest one rendering, or all the templates of one task, may run."""
_MAX_SIZE = 1_000_000
"""The largest repetition, width or exponent a template may ask for."""
_MARKERS = ("{{", "{%", "{#")
_BIG_WIDTH = re.compile(r"[0-9]{7,}")


def is_template(text: str) -> bool:
    """Whether ``text`` holds Jinja syntax (else it is used as it is)."""
    return any(marker in text for marker in _MARKERS)


def _refuse(message: str) -> NoReturn:
    raise SecurityError(message)


_LOOP_GUARD = "airkube_loop_guard"
_CONCAT_GUARD = "airkube_concat_guard"
_loops_left: ContextVar[list[int]] = ContextVar("airkube_template_loops_left")
_deadline: ContextVar[float] = ContextVar("airkube_template_deadline")


def _check_time() -> None:
    deadline = _deadline.get(None)
    if deadline is not None and time.monotonic() > deadline:
        _refuse(f"templates may take at most {MAX_RENDER_SECONDS:g} s to render")


@contextmanager
def time_limit() -> Iterator[None]:
    """Renderings inside share one :data:`MAX_RENDER_SECONDS` (the fields of one task);
    inside another ``time_limit``, the outer one's deadline holds."""
    if _deadline.get(None) is not None:
        yield
        return
    token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
    try:
        yield
    finally:
        _deadline.reset(token)


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` iterates through: counts the iterations of a rendering."""
    left = _loops_left.get()
    for item in iterable:
        left[0] -= 1
        if left[0] < 0:
            _refuse(f"templates may loop at most {MAX_LOOP_ITERATIONS} times")
        if left[0] % 1024 == 0:
            _check_time()
        yield item


def _weight(value: Any, limit: int = MAX_RENDERED_LENGTH) -> int:
    """About how many characters ``str(value)`` has, counted only until past ``limit``
    (a list holding itself a million times over is not walked a million times)."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 1
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        else:
            total += 16
    return total


def _check_length(size: int, what: str) -> None:
    if size > MAX_RENDERED_LENGTH:
        _refuse(
            f"{what} would be longer than the limit of {MAX_RENDERED_LENGTH} characters "
            f"(about {size})"
        )


def _check_bits(bits: int) -> None:
    if bits > MAX_INTEGER_BITS:
        _refuse(
            f"a number of about {bits} bits is too large for a template "
            f"(the limit is {MAX_INTEGER_BITS} bits, about 4,000 digits)"
        )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _replaced_length(text: str, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    found = text.count(old) + (1 if old == "" else 0)
    if _is_int(count) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _formatted_length(text: str, marker: str, values: Iterable[Any]) -> int:
    widest = max((_weight(v) for v in values), default=0)
    return len(text) + text.count(marker) * widest


def _joined_length(separator: Any, items: Any) -> int:
    if isinstance(items, str):
        return len(items) * (1 + _weight(separator))
    count = len(items) if isinstance(items, Collection) else 0
    return _weight(items) + max(count - 1, 0) * _weight(separator)


def _listed(items: Any) -> Any:
    """``items`` as a list when it is an iterator (its size can then be told before
    joining it); refused past :data:`MAX_RENDERED_LENGTH` items."""
    if isinstance(items, Collection) or not isinstance(items, Iterable):
        return items
    listed = []
    for item in items:
        listed.append(item)
        if len(listed) > MAX_RENDERED_LENGTH:
            _refuse(f"joining more than {MAX_RENDERED_LENGTH} values is not allowed")
    return listed


def _concat_guard(*values: Any) -> str:
    """What every ``~`` computes through: the joined string, refused when too long."""
    _check_time()
    _check_length(sum(_weight(v) for v in values), "joining these with ~")
    return "".join(str(v) for v in values)


def _finalize(value: Any) -> Any:
    """Every value a template prints, before it becomes a string."""
    _check_time()
    if not isinstance(value, str):
        _check_length(_weight(value), "the printed value")
    return value


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


def _check_product(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | bytes | list | tuple) and _is_int(times):
            if len(seq) * times > MAX_RENDERED_LENGTH:
                _refuse("repeating a value that many times is not allowed in a template")
            _check_length(_weight(seq) * max(times, 0), "the repeated value")
    if _is_int(left) and _is_int(right):
        _check_bits(left.bit_length() + right.bit_length())


def _check_power(left: Any, right: Any) -> None:
    _check_size(right)
    if not (_is_int(right) and right > 0 and isinstance(left, int | float)):
        return
    if isinstance(left, int) and not isinstance(left, bool) and abs(left) > 1:
        _check_bits(math.floor(math.log2(abs(left)) * right) + 1)
    elif right > 10_000 and abs(left) > 1:
        _refuse("an exponent that large is not allowed in a template")


def _check_str_method(text: str | bytes, name: str, args: tuple[Any, ...], kwargs: Any) -> None:
    if isinstance(text, bytes):
        text = text.decode("latin-1")  # the same length: what the estimates need
    if name == "replace" and len(args) >= 2:
        _check_length(_replaced_length(text, *args[:3]), "the replaced string")
    elif name == "join" and args:
        _check_length(_joined_length(text, args[0]), "the joined string")
    elif name in ("format", "format_map"):
        values = [*args, *kwargs.values()]
        if name == "format_map" and args and isinstance(args[0], Mapping):
            values = list(args[0].values())
        _check_length(_formatted_length(text, "{", values), "the formatted string")
    elif name == "translate" and args and isinstance(args[0], Mapping):
        widest = max((_weight(v) for v in args[0].values()), default=1)
        _check_length(len(text) * max(widest, 1), "the translated string")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if _is_int(size):
            _check_length(len(text) + text.count("\t") * size, "the expanded string")
    elif name in ("center", "ljust", "rjust", "zfill") and args and _is_int(args[0]):
        _check_length(args[0], "the padded string")


def _check_size(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SIZE:
        _refuse(f"the number {value} is too large for a template")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no internals, no mutation of values) with airkube's
    limits (see the module docstring)."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_time()
        if operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                _check_length(_weight(left) + _weight(right), "the sum")
        elif operator == "*":
            _check_product(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            if _BIG_WIDTH.search(left):
                _refuse("a format width that large is not allowed in a template")
            values = right if isinstance(right, tuple) else (right,)
            if isinstance(right, Mapping):
                values = tuple(right.values())
            _check_length(_formatted_length(left, "%", values), "the formatted string")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_time()
        for value in (*args, *kwargs.values()):
            _check_size(value)
        # str.format comes wrapped by the sandbox (the method is its __wrapped__).
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str | bytes):
            name = getattr(method, "__name__", "")
            if name == "join" and args:
                args = (_listed(args[0]), *args[1:])
            _check_str_method(owner, name, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, str | bytes):
            _check_length(len(result), "the result")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        formats = isinstance(obj, str) and attribute in ("format", "format_map")
        if formats and _BIG_WIDTH.search(obj):
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)


def _in_timezone(value: datetime, name: str) -> datetime:
    return value.astimezone(zone(name))


def _checked_filter(
    filter_function: Callable[..., Any],
    estimate: Callable[..., int] | None = None,
    sizes: bool = False,
) -> Callable[..., Any]:
    """``filter_function`` with the limits: the size of its result estimated first
    (``estimate`` takes the filter's arguments, without the context Jinja passes first to
    some) and checked after; with ``sizes``, no huge numbers among its arguments."""
    skip = 1 if hasattr(filter_function, "jinja_pass_arg") else 0

    @functools.wraps(filter_function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_time()
        if estimate is _join_estimate and len(args) > skip:
            args = (*args[:skip], _listed(args[skip]), *args[skip + 1 :])
        values = args[skip:]
        for value in (*values[1:], *kwargs.values()) if sizes else ():
            _check_size(value)
        if estimate is not None and values:
            _check_length(estimate(*values, **kwargs), "the filtered value")
        result = filter_function(*args, **kwargs)
        if isinstance(result, str):
            _check_length(len(result), "the filtered value")
        return result

    return checked


def _input_weight(value: Any, *_args: Any, **_kwargs: Any) -> int:
    return _weight(value)


def _replace_estimate(value: Any, old: Any = "", new: Any = "", count: Any = None) -> int:
    text = value if isinstance(value, str) else ""
    return _replaced_length(text, old, new, -1 if count is None else count)


def _join_estimate(value: Any, d: Any = "", attribute: Any = None) -> int:
    return _joined_length(d, value)


def _indent_estimate(value: Any, width: Any = 4, *_args: Any, **_kwargs: Any) -> int:
    size = width if _is_int(width) else len(width) if isinstance(width, str) else 0
    text = value if isinstance(value, str) else ""
    return len(text) + (text.count("\n") + 1) * max(size, 0)


def _tojson_estimate(value: Any, indent: Any = None) -> int:
    # Each line may be indented by its depth times ``indent``: bounded by the size times it.
    return _weight(value) * (1 + (indent if _is_int(indent) and indent > 0 else 0))


def _wordwrap_estimate(value: Any, width: Any = 79, *args: Any, **kwargs: Any) -> int:
    wrap = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    text = value if isinstance(value, str) else ""
    if not isinstance(wrap, str) or not _is_int(width) or width < 1:
        return len(text)
    return len(text) + (len(text) // width + text.count("\n") + 1) * len(wrap)


def _center_estimate(value: Any, width: Any = 80) -> int:
    return max(_weight(value), width if _is_int(width) else 0)


_ESTIMATES: dict[str, Callable[..., int]] = {
    "replace": _replace_estimate,
    "join": _join_estimate,
    "indent": _indent_estimate,
    "center": _center_estimate,
    "tojson": _tojson_estimate,
    "wordwrap": _wordwrap_estimate,
    **{name: _input_weight for name in ("string", "pprint", "sum", "urlencode", "xmlattr")},
}


def _environment() -> _Sandbox:
    env = _Sandbox(
        undefined=_Undefined, keep_trailing_newline=True, autoescape=False, finalize=_finalize
    )
    original_format = env.filters["format"]

    def checked_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and _BIG_WIDTH.search(value):
            _refuse("a format width that large is not allowed in a template")
        if isinstance(value, str):
            values = [*args, *kwargs.values()]
            _check_length(_formatted_length(value, "%", values), "the formatted string")
        return original_format(value, *args, **kwargs)

    env.filters["format"] = checked_format
    env.filters["in_timezone"] = _in_timezone
    for name, function in list(env.filters.items()):
        sizes = name in ("center", "indent", "wordwrap", "truncate", "batch", "slice")
        env.filters[name] = _checked_filter(function, _ESTIMATES.get(name), sizes)
    del env.globals["lipsum"]  # lorem ipsum: of no use in a command, and a memory hog
    env.globals[_LOOP_GUARD] = _loop_guard
    env.globals[_CONCAT_GUARD] = _concat_guard
    return env


ENV = _environment()
"""The one environment: templates have no loader (nothing to include or extend)."""

GLOBAL_NAMES = frozenset(name for name in ENV.globals if name not in (_LOOP_GUARD, _CONCAT_GUARD))
"""The functions every template may call (``range``, ``dict``, ``cycler``…)."""


def parse(source: str) -> nodes.Template:
    """The syntax tree of ``source``; raises what Jinja raises for a syntax error."""
    return ENV.parse(source)


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """``source`` compiled, its loops and ``~`` guarded. Raises for syntax errors and
    unknown filters or tests (Jinja finds those while compiling)."""
    tree = ENV.parse(source)
    for loop in list(tree.find_all(nodes.For)):
        guard = nodes.Name(_LOOP_GUARD, "load", lineno=loop.lineno)
        loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
    for concat in list(tree.find_all(nodes.Concat)):
        guard = nodes.Name(_CONCAT_GUARD, "load", lineno=concat.lineno)
        concat.nodes = [nodes.Call(guard, concat.nodes, [], None, None, lineno=concat.lineno)]
    return ENV.template_class.from_code(ENV, ENV.compile(tree), ENV.make_globals(None), None)


class TooLongError(Exception):
    """The rendered value grew past MAX_RENDERED_LENGTH."""

    def __str__(self) -> str:
        return f"the rendered value is longer than the limit of {MAX_RENDERED_LENGTH} characters"


def generate(template: Template, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context`` under the loop, length and time limits."""
    token = _loops_left.set([MAX_LOOP_ITERATIONS])
    try:
        with time_limit():
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
