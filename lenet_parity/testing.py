"""pytest support: ``assert_layer_parity(MyConv2d, "conv")`` passes silently or raises an AssertionError naming the
first failing layer and tensor, the numbers and the likely cause, in plain text. Bad input (a missing file, an
unknown kind or mode, a file that cannot be imported) fails the test with that one line and no traceback. Also a pytest plugin
(entry point ``pytest11``): the ``layer_parity`` fixture is the same function."""

from __future__ import annotations

from typing import Any

import pytest

from lenet_parity.errors import UserInputError


def assert_layer_parity(layer: Any, kind: str = "all", **options: Any) -> None:
    """check_layer(layer, kind, **options); AssertionError unless every check passed. Bad input (UserInputError)
    fails the test with its one line (``pytest.fail(..., pytrace=False)``): the harness's frames would only hide it."""
    from lenet_parity.harness.api import check_layer

    try:
        run = check_layer(layer, kind, **options)
    except UserInputError as exc:
        bad_input = str(exc)
    else:
        bad_input = None
    if bad_input is not None:  # outside the except block: nothing chained to the failure
        pytest.fail(f"lenet-parity: bad input: {bad_input}", pytrace=False)
    if not run.passed:
        raise AssertionError(run.failure_message())


@pytest.fixture
def layer_parity():
    """The assert_layer_parity function, for tests that prefer a fixture."""
    return assert_layer_parity
