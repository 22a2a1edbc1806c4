"""Hostile (issue 20, attack 7): the worker inherits the checker's whole environment. Forward (and backward) raise
RuntimeError whose message carries $SECRET_TOKEN (run the check with SECRET_TOKEN=leaked-secret-123 exported) and
$PYTEST_CURRENT_TEST (set by pytest around every test, so tests/test_hostile.py sees a leak without any setup): the
values land in the report, the JSON and the grade reason.

A fixed harness clears the worker's environment down to a short allow-list: the layer fails with "raised
RuntimeError: cannot compute; leaked: SECRET_TOKEN=None PYTEST_CURRENT_TEST=None", and "leaked-secret-123" is in
no output.
"""

import os


def _leak() -> str:
    return (f"cannot compute; leaked: SECRET_TOKEN={os.environ.get('SECRET_TOKEN')} "
            f"PYTEST_CURRENT_TEST={os.environ.get('PYTEST_CURRENT_TEST')}")


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        raise RuntimeError(_leak())

    def backward(self, dy):
        raise RuntimeError(_leak())
