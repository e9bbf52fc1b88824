"""Shortening what the kernel writes: bounded messages and outputs, lists of names."""

MESSAGE_MAX_BYTES = 4096


def truncate_utf8(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore")


def last_line(text: str, limit: int = 200) -> str:
    """The last non-empty line of ``text`` (of a log tail: usually the error), shortened
    for an event."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
