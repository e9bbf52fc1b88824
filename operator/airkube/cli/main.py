"""Entry point of the ``airkube`` command."""

import click

from airkube import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="airkube")
def main() -> None:
    """airkube: Airflow-style DAGs on Kubernetes."""


@main.command()
def version() -> None:
    """Print airkube's version."""
    click.echo(__version__)
