"""Suggestions ("did you mean ...?"): the closest of a fixed set of values to a mistyped one. Pure.

Every value that must be one of a few words (a template, a ``--trigger``, ``--output``, a profile key, a
scenario, a shell) is refused with ``expected(value, choices)``: one line that lists the choices and, when one is
close enough to what was typed, names it.
"""

from __future__ import annotations

from collections.abc import Iterable

#: how alike a choice must be to be offered (difflib's ratio; 0.6 is its own default)
CUTOFF = 0.6


def closest(value: str, choices: Iterable[str]) -> str | None:
    """The choice ``value`` most likely meant: one that differs only in case, else the most alike one at or above
    ``CUTOFF``, else None."""
    import difflib  # only on the way to an error

    options = [str(c) for c in choices]
    typed = value.strip()
    folded = {c.casefold(): c for c in options}
    if typed.casefold() in folded:
        return folded[typed.casefold()]
    found = difflib.get_close_matches(typed.casefold(), list(folded), n=1, cutoff=CUTOFF)
    return folded[found[0]] if found else None


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'inbound'?"``, or ``""`` when no choice is close."""
    best = closest(value, choices)
    return f"; did you mean {best!r}?" if best is not None and best != value else ""


def expected(value: object, choices: Iterable[str]) -> str:
    """``expected one of inbound, outbound, got 'inbond'; did you mean 'inbound'?`` (a value that is not a string,
    from a manifest, gets no suggestion)."""
    options = [str(c) for c in choices]
    hint = did_you_mean(value, options) if isinstance(value, str) else ""
    return f"expected one of {', '.join(options)}, got {value!r}{hint}"
