""" "Did you mean" hints at a bounded cost, however many names are known or unknown.

``difflib.get_close_matches`` compares a name with every candidate: once per unknown name
of a 10,000-task DAG, that is quadratic (issue 15: 31 s on the operator's event loop).
:class:`Suggestions` is built once per set of known names and keeps the cost linear:

- each distinct unknown name is looked up once (remembered after);
- only the first :data:`MAX_SUGGESTED` distinct unknown names get a hint (a spec with
  more mistakes than that gets the hints where they help most: the first ones);
- each lookup compares with at most :data:`MAX_CANDIDATES` known names, those whose length
  could reach difflib's similarity cutoff at all (a cheap prefilter by length), the ones
  of the nearest lengths and with the same first letter first.
"""

from collections.abc import Iterable
from difflib import get_close_matches

MAX_SUGGESTED = 10
"""The most distinct unknown names one :class:`Suggestions` looks up."""
MAX_CANDIDATES = 300
"""The most known names one lookup compares with."""
_CUTOFF = 0.6


class Suggestions:
    """The closest known name to an unknown one, for one set of known names."""

    def __init__(self, known: Iterable[str], cutoff: float = _CUTOFF) -> None:
        self._by_length: dict[int, list[str]] = {}
        for name in sorted(set(known)):
            self._by_length.setdefault(len(name), []).append(name)
        self._cutoff = cutoff
        self._looked_up: dict[str, str | None] = {}

    def closest(self, name: str) -> str | None:
        """The known name closest to ``name``, or None (none close enough, or past the
        bound on lookups)."""
        if name in self._looked_up:
            return self._looked_up[name]
        if len(self._looked_up) >= MAX_SUGGESTED:
            return None
        close = get_close_matches(name, self._candidates(name), n=1, cutoff=self._cutoff)
        found = close[0] if close else None
        self._looked_up[name] = found
        return found

    def hint(self, name: str) -> str:
        """`` (did you mean "x"?)`` for the known name closest to ``name``, else ``""``."""
        found = self.closest(name)
        return f' (did you mean "{found}"?)' if found is not None else ""

    def _candidates(self, name: str) -> list[str]:
        # difflib's ratio is 2·matches / (len(a) + len(b)) ≤ 2·min / (len(a) + len(b)):
        # only lengths where that bound reaches the cutoff can match. Nearest lengths first.
        size = len(name)
        lengths = sorted(
            (
                length
                for length in self._by_length
                if 2 * min(size, length) >= self._cutoff * (size + length)
            ),
            key=lambda length: abs(length - size),
        )
        first = name[:1]
        candidates: list[str] = []
        for same_start in (True, False):
            for length in lengths:
                for known in self._by_length[length]:
                    if known.startswith(first) == same_start:
                        candidates.append(known)
                        if len(candidates) >= MAX_CANDIDATES:
                            return candidates
        return candidates


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the known name closest to ``name``, else ``""``: for a
    single lookup (build one :class:`Suggestions` for many)."""
    return Suggestions(known).hint(name)
