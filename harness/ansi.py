"""Colour for terminal reports: ANSI codes around the text (the CLI's click.echo strips them when the
output is not a terminal), so the report modules build text and never print."""

from __future__ import annotations

import re

_COLOURS = {"red": 31, "green": 32, "yellow": 33}


def style(text: str, fg: str | None = None, bold: bool = False) -> str:
    """``text`` in colour ``fg`` (red, green, yellow) and/or bold, like click.style."""
    codes = ([str(_COLOURS[fg])] if fg else []) + (["1"] if bold else [])
    return f"\033[{';'.join(codes)}m{text}\033[0m" if codes else text


def unstyle(text: str) -> str:
    """``text`` without the codes style() adds (what a file or a pipe receives)."""
    return re.sub(r"\033\[[0-9;]*m", "", text)
