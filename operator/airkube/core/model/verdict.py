"""A rule's answer to "may it, and if not, why": what the CLI and the UI show."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str | None = None
    message: str | None = None

    @classmethod
    def yes(cls) -> "Verdict":
        return cls(True)

    @classmethod
    def no(cls, reason: str, message: str) -> "Verdict":
        return cls(False, reason, message)
