"""Spreadsheet safety for every CSV Polaris writes: one rule for the exports and the import.

A text cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return and is not a plain number) is exported with a leading ``'``, and the
import takes exactly that one ``'`` off again (``neutralise_cell`` and ``restore_cell``). Text that
already starts with ``'`` before such a character gets one more, so every text survives the round
trip; ``-12.5`` stays a number.
"""

from __future__ import annotations

import re

# Cells starting with one of these run as a formula in a spreadsheet (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number (ASCII digits only: the same test runs in SQL) is left alone, sign and all.
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def _formula_like(text: str) -> bool:
    """True for text that gets a ``'`` on export: after any ``'`` it already starts with, it
    starts like a formula and is not a plain number."""
    rest = text.lstrip("'")
    return rest.startswith(FORMULA_STARTS) and PLAIN_NUMBER.fullmatch(rest) is None


def neutralise_cell(text: str) -> str:
    """``=1+2`` -> ``'=1+2`` (a spreadsheet shows it as text); ``-12.5`` stays a number."""
    return "'" + text if _formula_like(text) else text


def restore_cell(text: str) -> str:
    """The inverse of ``neutralise_cell``: takes off exactly the ``'`` the export put there."""
    return text[1:] if text.startswith("'") and _formula_like(text[1:]) else text
