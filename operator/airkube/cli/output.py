"""How commands print: a table (coloured on a terminal, plain aligned text otherwise), or
the same data as JSON or YAML with ``-o``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from airkube.api.states import RunState, TaskState

output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["json", "yaml"]),
    default=None,
    help="Print JSON or YAML instead of text.",
)

STATE_STYLES: dict[str, str] = {
    RunState.SUCCEEDED: "green",
    RunState.FAILED: "bold red",
    RunState.CANCELLED: "magenta",
    RunState.RUNNING: "cyan",
    RunState.QUEUED: "yellow",
    TaskState.UPSTREAM_FAILED: "red",
    TaskState.SCHEDULED: "yellow",
    TaskState.UP_FOR_RETRY: "yellow",
    TaskState.SKIPPED: "dim",
    TaskState.NONE: "dim",
}
"""The colour of each state; a run's states share their names with a task's."""


def console() -> Console:
    """stdout; rich turns colour off when it is not a terminal (and honours NO_COLOR)."""
    return Console(highlight=False, soft_wrap=True)


def emit(data: Any, output: str) -> None:
    """Print ``data`` (plain JSON-able values) as JSON or YAML."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


def styled(text: str, style: str | None) -> Text:
    return Text(text, style=style or "")


def state_text(state: str) -> Text:
    return styled(state, STATE_STYLES.get(state))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str | Text]]) -> None:
    """Rows under headers: a rich table on a terminal, aligned plain columns otherwise."""
    out = console()
    if out.is_terminal:
        table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    plain = [[str(cell) for cell in headers]] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in plain) for i in range(len(headers))]
    for row in plain:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def print_fields(fields: Sequence[tuple[str, str | Text]]) -> None:
    """``Name:  value`` lines, the names aligned."""
    width = max(len(name) for name, _ in fields) + 1
    out = console()
    for name, value in fields:
        line = Text(f"{name + ':':<{width}} ")
        line.append(value if isinstance(value, Text) else Text(value))
        out.print(line)
