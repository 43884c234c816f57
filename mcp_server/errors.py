"""Errors an agent reads in one line, and arguments cut to a bounded size wherever they go.

Why: the SDK reports a bad argument as a multi-line pydantic dump with a documentation URL
and the rejected value in full; a 200,000-character argument came back as a 200 KB reply
and a 200 KB audit row. Here every error is one line of at most MAX_ERROR_CHARS, naming
the argument and what is expected, and the audit row keeps a bounded copy of the arguments
that is still valid JSON.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from pydantic import ValidationError

MAX_ERROR_CHARS = 400  # one error line in a reply and in the audit row
MAX_DETAIL_CHARS = 4000  # a traceback kept in the audit row (never sent to the client)
MAX_VALUE_CHARS = 40  # a rejected value quoted in an error
MAX_AUDIT_STRING = 200  # one string argument kept in the audit row
MAX_AUDIT_ITEMS = 20  # list items / object keys kept per level in the audit row
MAX_AUDIT_ARGS_CHARS = 2000  # the whole arguments JSON in the audit row
_SPACE = re.compile(r"\s+")


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Whitespace (newlines included) collapsed to single spaces, cut to `limit` characters."""
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def short_value(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """repr() of a rejected value, cut so that an oversized argument is never echoed."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} chars)"


def validation_message(tool: str, exc: ValidationError) -> str:
    """'get_chain_sample: view: Input should be ...; got 'weekly'' - the first few errors."""
    parts = []
    errors = exc.errors(include_url=False)
    for err in errors[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "arguments"
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            parts.append(f"{loc}: required")
        else:
            parts.append(f"{loc}: {msg} (got {short_value(err.get('input'))})")
    more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
    return one_line(f"{tool}: invalid arguments: {'; '.join(parts)}{more}")


def unknown_arguments_message(tool: str, unknown: list[str], known: list[str]) -> str:
    """'get_chain_sample: unknown argument 'expiration' (did you mean expiry?); this tool
    takes: ...' - an argument the schema does not name would otherwise be ignored, and a
    misspelt filter answered as if it had been applied."""
    names = ", ".join(short_value(u) for u in unknown[:5])
    close = difflib.get_close_matches(unknown[0], known, n=1, cutoff=0.5) if unknown else []
    hint = f" (did you mean {close[0]}?)" if close else ""
    word = "argument" if len(unknown) == 1 else "arguments"
    return one_line(f"{tool}: unknown {word} {names}{hint}; this tool takes: {', '.join(known)}")


def bounded(value: Any, depth: int = 0) -> Any:
    """A copy of JSON arguments with long strings, long lists and deep nesting cut."""
    if isinstance(value, str):
        if len(value) <= MAX_AUDIT_STRING:
            return value
        return f"{value[:MAX_AUDIT_STRING]}...({len(value)} chars)"
    if depth >= 4:
        return "..." if isinstance(value, dict | list) else value
    if isinstance(value, dict):
        items = list(value.items())
        out = {str(k)[:MAX_VALUE_CHARS]: bounded(v, depth + 1) for k, v in items[:MAX_AUDIT_ITEMS]}
        if len(items) > MAX_AUDIT_ITEMS:
            out["..."] = f"{len(items) - MAX_AUDIT_ITEMS} more keys"
        return out
    if isinstance(value, list):
        kept = [bounded(v, depth + 1) for v in value[:MAX_AUDIT_ITEMS]]
        if len(value) > MAX_AUDIT_ITEMS:
            kept.append(f"...{len(value) - MAX_AUDIT_ITEMS} more items")
        return kept
    return value


def audit_arguments(arguments: Any) -> str:
    """The arguments as the audit row keeps them: bounded, and always valid JSON."""
    text = json.dumps(bounded(arguments), sort_keys=True, default=str)
    if len(text) <= MAX_AUDIT_ARGS_CHARS:
        return text
    return json.dumps({"truncated": text[: MAX_AUDIT_ARGS_CHARS - 40]})
