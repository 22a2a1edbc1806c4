"""The worked examples, shipped inside the package: my_conv.py (a user's conv layer in one file) and any_language/
(the C example and answer_with_numpy.py, package data). They import nothing of ours: they are what a user writes.
"""

from pathlib import Path

ANY_LANGUAGE = Path(__file__).resolve().parent / "any_language"  # printed by `lenet-parity cases example-dir`
