"""pytest support: ``assert_layer_parity(MyConv2d, "conv")`` passes silently or raises an AssertionError naming the
first failing layer and tensor, the numbers and the likely cause, in plain text. Also a pytest plugin (entry point
``pytest11``): the ``layer_parity`` fixture is the same function."""

from __future__ import annotations

from typing import Any

import pytest


def assert_layer_parity(layer: Any, kind: str = "all", **options: Any) -> None:
    """check_layer(layer, kind, **options); AssertionError unless every check passed."""
    from lenet_parity.harness.api import check_layer

    run = check_layer(layer, kind, **options)
    if not run.passed:
        raise AssertionError(run.failure_message())


@pytest.fixture
def layer_parity():
    """The assert_layer_parity function, for tests that prefer a fixture."""
    return assert_layer_parity
