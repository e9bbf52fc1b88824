"""Merging DAG defaults with a task's settings: lists of named things merged by name, pod
templates merged deeply (the later value wins).

Lists merged by key (others are replaced as a whole):

- containers, initContainers, ephemeralContainers: by name, entries merged deeply;
- env, volumes, imagePullSecrets: by name, an entry replaces the entry it matches;
- volumeMounts: by mountPath; tolerations: by key and effect; envFrom: by source and prefix;
  ports: by containerPort; hostAliases: by ip (an entry replaces the one it matches).
"""

import copy
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

Key = Callable[[Mapping[str, Any]], Hashable]


def _field(name: str) -> Key:
    return lambda item: item.get(name)


def _env_from_key(item: Mapping[str, Any]) -> Hashable:
    config_map = item.get("configMapRef") or {}
    secret = item.get("secretRef") or {}
    return (item.get("prefix"), config_map.get("name"), secret.get("name"))


# field name → (key of an entry, whether matching entries are merged deeply)
_KEYED_LISTS: dict[str, tuple[Key, bool]] = {
    "containers": (_field("name"), True),
    "initContainers": (_field("name"), True),
    "ephemeralContainers": (_field("name"), True),
    "env": (_field("name"), False),
    "volumes": (_field("name"), False),
    "imagePullSecrets": (_field("name"), False),
    "volumeMounts": (_field("mountPath"), False),
    "tolerations": (lambda t: (t.get("key"), t.get("effect")), False),
    "envFrom": (_env_from_key, False),
    "ports": (_field("containerPort"), False),
    "hostAliases": (_field("ip"), False),
}


def merge_keyed(
    base: Sequence[Any], override: Sequence[Any], key: Key, *, deep: bool = False
) -> list[Any]:
    """``base`` with the entries of ``override``: an entry with the key of a base entry takes
    its place (merged into it when ``deep``); others are appended, in order."""
    result = [copy.deepcopy(item) for item in base]
    where: dict[Hashable, int] = {}
    for i, item in enumerate(result):
        if isinstance(item, Mapping):
            where.setdefault(key(item), i)
    for item in override:
        k = key(item) if isinstance(item, Mapping) else None
        if k is not None and k in where:
            i = where[k]
            result[i] = deep_merge(result[i], item) if deep else copy.deepcopy(item)
        else:
            if k is not None:
                where[k] = len(result)
            result.append(copy.deepcopy(item))
    return result


def deep_merge(base: Any, override: Any, field: str | None = None) -> Any:
    """``override`` merged into ``base`` (JSON-like values; neither is modified).

    Objects are merged key by key; lists named in the module docstring are merged by key;
    anything else in ``override`` replaces what is in ``base``. ``None`` in ``override``
    means "not set" and keeps the base value.
    """
    if override is None:
        return copy.deepcopy(base)
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = {k: copy.deepcopy(v) for k, v in base.items()}
        for k, v in override.items():
            merged[k] = deep_merge(merged.get(k), v, k) if k in merged else copy.deepcopy(v)
        return merged
    if (
        field in _KEYED_LISTS
        and isinstance(base, Sequence)
        and isinstance(override, Sequence)
        and not isinstance(base, str)
        and not isinstance(override, str)
    ):
        key, deep = _KEYED_LISTS[field]
        return merge_keyed(base, override, key, deep=deep)
    return copy.deepcopy(override)


def list_key(field: str) -> Key:
    """The key entries of the list field ``field`` are merged by."""
    return _KEYED_LISTS[field][0]
