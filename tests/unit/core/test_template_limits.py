"""The sandbox's limits on what one rendering may cost (issue 15): integer size, the
size of every string a template builds (repeat, concatenate, replace, join, format, pad,
print) and time, each refused before the work is done with a message naming the field
and the limit."""

import pytest

from airkube.core.model.render import RenderError
from airkube.core.templates import MAX_RENDERED_LENGTH, sandbox
from airkube.core.templates.rendering import render_string
from airkube.core.templates.sandbox import MAX_INTEGER_BITS

TOO_LONG = f"longer than the limit of {MAX_RENDERED_LENGTH} characters"
BIG = "{% set big = 'x' * 100000 %}"


def one(template: str) -> str:
    return render_string(template, {}, "args[0]")


@pytest.mark.parametrize(
    "template",
    [
        "{{ (((2**10000)**10000)**10) }}",
        "{{ 3 ** 9000 }}",
        "{{ (2**10000) * (2**10000) }}",
        "{% set n = 2**13000 %}{{ n * n }}",
    ],
)
def test_integers_past_the_limit_are_refused(template: str) -> None:
    with pytest.raises(RenderError, match=rf"^args\[0\]: .*limit is {MAX_INTEGER_BITS} bits"):
        one(template)


@pytest.mark.parametrize(
    "template",
    [
        BIG + "{{ big | replace('x', big) }}",
        BIG + "{{ big.replace('x', big) }}",
        BIG + "{{ big.replace('', 'yy') }}",
        BIG + "{{ big ~ big }}",
        BIG + "{{ big + big }}",
        BIG + "{{ [big] * 3 }}",
        BIG + "{{ ([big] * 2) | join }}",
        BIG + "{{ ','.join([big, big]) }}",
        BIG + "{{ '{0}{0}'.format(big) }}",
        BIG + "{{ '{x}{x}'.format_map({'x': big}) }}",
        BIG + "{{ '%s%s' % (big, big) }}",
        BIG + "{{ '%s%s' | format(big, big) }}",
        BIG + "{% set a = [big] %}{% set b = [a, a] %}{{ b }}",
        BIG + "{% set a = [big] %}{% set b = [a, a] %}{{ b | string }}",
        "{{ ('a\tb' * 1000).expandtabs(1000) }}",
        "{{ 'a'.center(200000) }}",
        "{{ ('\n' * 1000) | indent(1000) }}",
        BIG + "{{ big.join(range(100) | map('string')) }}",
        BIG + "{{ range(100) | map('string') | join(big) }}",
        BIG + "{{ ('aaaa' * 10).translate({97: big}) }}",
        "{{ {'a': [[[[1]]]]} | tojson(indent=100000) }}",
        BIG + "{{ ('a ' * 1000) | wordwrap(2, wrapstring=big) }}",
    ],
)
def test_amplification_past_the_output_limit_is_refused(template: str) -> None:
    with pytest.raises(RenderError, match=rf"^args\[0\]: not allowed: .*{TOO_LONG}"):
        one(template)


def test_the_refusal_says_what_would_have_been_too_long() -> None:
    with pytest.raises(RenderError) as caught:
        one(BIG + "{{ big.replace('x', big) }}")
    assert str(caught.value) == (
        f"args[0]: not allowed: the replaced string would be {TOO_LONG} (about 10000000000)"
    )


def test_a_rendering_has_a_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_RENDER_SECONDS", 0.05)
    endless = (
        "{% for i in range(100000) %}{% for j in range(9) %}{{ i ~ j }}{% endfor %}{% endfor %}"
    )
    with pytest.raises(RenderError, match=r"^args\[0\]: .*at most 0.05 s to render"):
        render_string(endless, {}, "args[0]")


def test_the_time_limit_covers_all_of_a_task_s_templates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "MAX_RENDER_SECONDS", 0.2)
    slow = "{% for i in range(100000) %}{% for j in range(9) %}{% endfor %}{% endfor %}"
    with sandbox.time_limit():
        with pytest.raises(RenderError, match=r"^args\[0\]: .*at most 0.2 s to render"):
            render_string(slow, {}, "args[0]")
        # Quick on its own, but the task's time is spent.
        with pytest.raises(RenderError, match=r"^args\[1\]: .*at most 0.2 s to render"):
            render_string("{{ 1 + 1 }}", {}, "args[1]")
    assert render_string("{{ 1 + 1 }}", {}, "args[1]") == "2"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 2 ** 64 }}", str(2**64)),
        ("{{ (2 ** 4000) | string | length }}", str(len(str(2**4000)))),
        ("{{ 'abc' | replace('b', 'xy') }}", "axyc"),
        ("{{ 'a-b'.replace('-', '_') }}", "a_b"),
        ("{{ [1, 2] | join(',') }}", "1,2"),
        ("{{ 'a' ~ 1 ~ 'b' }}", "a1b"),
        ("{{ '%05d' % 3 }}", "00003"),
        ("{{ '{}-{}'.format(1, 2) }}", "1-2"),
        ("{{ ('abcdefghijkl' * 3) | truncate(20) }}", "abcdefghijklabcde..."),
        ("{{ 'ab cd' | wordwrap(2) }}", "ab\ncd"),
        ("{{ ('x' * 1000) | length }}", "1000"),
        ("{{ range(3) | list }}", "[0, 1, 2]"),
        ("{{ '-'.join(range(3) | map('string')) }}", "0-1-2"),
        ("{{ 'abc'.translate({97: 'zz'}) }}", "zzbc"),
        ("{{ {'a': 1} | tojson(indent=2) }}", '{\n  "a": 1\n}'),
        ("{{ 'a b c' | wordwrap(1, wrapstring='|') }}", "a|b|c"),
    ],
)
def test_ordinary_templates_still_render(template: str, expected: str) -> None:
    assert one(template) == expected
