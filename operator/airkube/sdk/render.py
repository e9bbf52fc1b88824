"""Resources as YAML people can read: keys in the models' order, multi-line strings (a
shell script, a ``@task`` function's source) as literal blocks."""

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    pass


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def resource_yaml(resource: Any) -> str:
    """One YAML document (without the ``---`` separator)."""
    text: str = yaml.dump(
        resource,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return text
