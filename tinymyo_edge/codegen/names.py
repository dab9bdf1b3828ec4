"""ONNX/IR names -> safe C identifiers and comment text. Nothing from a model reaches C or a file name unsanitised."""

from __future__ import annotations

import re

_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Bool _Complex _Imaginary".split())


def c_identifier(name: str) -> str:
    """A C identifier (and file-name-safe token) from any string: [A-Za-z0-9_] only, never empty, never a keyword,
    never starting with a digit or with two underscores (reserved)."""
    ident = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    ident = re.sub(r"_+", "_", ident) or "unnamed"
    if ident[0].isdigit() or ident in _C_KEYWORDS:
        ident = "n_" + ident
    return ident


def unique_identifiers(names: list[str]) -> list[str]:
    """One identifier per entry, all distinct (even for repeated names: a suffix _2, _3 ...), in input order."""
    taken: set[str] = set()
    result: list[str] = []
    for name in names:
        base = c_identifier(name)
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}_{n}", n + 1
        taken.add(ident)
        result.append(ident)
    return result


def comment_text(name: str, limit: int = 120) -> str:
    """Text safe inside a C block comment and a C string: printable ASCII minus * \\ \" and control characters."""
    text = "".join(ch if (" " <= ch <= "~" and ch not in '*\\"') else "?" for ch in name)
    return text[:limit]
