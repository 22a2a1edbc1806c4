"""A TOML file a user gives (an adapter, a rubric), read whole: every problem is one line of bad input naming the
option and the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lenet_parity.errors import UserInputError


def read_toml(path: str | Path, option: str) -> dict[str, Any]:
    """The document in ``path``; ``option`` (``--adapter``, ``--rubric``) starts each error."""
    import tomllib

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"{option} {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{option} {path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserInputError(f"{option} {path}: not valid TOML ({exc})") from None
