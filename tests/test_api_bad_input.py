"""Bad input through the Python API and the pytest helper: one line, never the harness's traceback.

check_layer and check_network raise lenet_parity.errors.UserInputError with a one-line message, no chained
exception, its traceback stopping at the API call; assert_layer_parity and the layer_parity fixture fail the test
with that line alone (pytest.fail(..., pytrace=False)). The user's files live outside the repository.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import traceback

import pytest

from conftest import ROOT
from lenet_parity import check_layer, check_network
from lenet_parity.errors import UserInputError

RELU = f"{ROOT / 'tests' / 'student_layers' / 'numpy_layers.py'}:ReLU"


class ReLU:  # a class is fine; an instance of it is bad input
    def __init__(self):
        self.params, self.grads = {}, {}


@pytest.fixture
def raises_at_import(tmp_path):
    path = tmp_path / "broken_layers.py"
    path.write_text('raise ValueError("first line\\nsecond line")\n\nclass ReLU:\n    pass\n')
    return f"{path}:ReLU"


BAD_CALLS = {  # what the user passed -> a few words of the one line it must get
    "missing file": (lambda _: check_layer("nope.py:ReLU", "relu", modes=["snapshot"]), "layer: nope.py not found"),
    "unknown kind": (lambda _: check_layer(RELU, "relux", modes=["snapshot"]), "unknown layer type 'relux'"),
    "unknown mode": (lambda _: check_layer(RELU, "relu", modes=["snap"]), "unknown mode 'snap'"),
    "unknown dtype": (lambda _: check_layer(RELU, "relu", dtype="float16", modes=["snapshot"]), "unknown dtype"),
    "not a spec": (lambda _: check_layer("ReLU", "relu"), "layer 'ReLU': expected path/to/file.py"),
    "an instance": (lambda _: check_layer(ReLU(), "relu"), "expected a class (not an instance)"),
    "missing golden file": (lambda tmp: check_layer(RELU, "relu", modes=["snapshot"], phase0=tmp / "none.json"),
                            "none.json"),
    "import error": (None, "raised ValueError: first line second line"),
    "network of a class": (lambda _: check_network(RELU), "check_network takes a whole file"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_the_api_raises_one_line_with_no_chained_traceback(name, tmp_path, raises_at_import):
    call, words = BAD_CALLS[name]
    if call is None:
        call = lambda _: check_layer(raises_at_import, "relu", modes=["snapshot"])  # noqa: E731
    with pytest.raises(UserInputError) as info:
        call(tmp_path)
    message = str(info.value)
    assert words in message and "\n" not in message, message
    assert not message.startswith("--impl"), message  # the API's words, not the CLI's
    assert info.value.__cause__ is None and info.value.__suppress_context__
    frames = traceback.extract_tb(info.value.__traceback__)
    files = [f.filename.rsplit("/", 1)[-1] for f in frames]
    assert files[-1] == "api.py" and set(files[:-1]) == {"test_api_bad_input.py"}, frames  # the caller, the API


def test_a_message_with_line_breaks_is_kept_on_one_line():
    assert str(UserInputError("importing x.py raised ValueError: a\n  b\r\nc\n")) == \
        "importing x.py raised ValueError: a b c"


SCRIPT = textwrap.dedent('''
    from lenet_parity import check_layer

    check_layer("my_layer.py:Conv2d", "conv")
''')

USER_TEST = textwrap.dedent('''
    from lenet_parity.testing import assert_layer_parity

    def test_helper():
        assert_layer_parity("my_layer.py:Conv2d", "conv")

    def test_fixture(layer_parity):
        layer_parity("{relu}", "relux", modes=["snapshot"])
''').replace("{relu}", RELU)


def test_a_script_outside_the_repository_sees_one_line_and_the_call(tmp_path):
    (tmp_path / "script.py").write_text(SCRIPT)
    out = subprocess.run([sys.executable, "script.py"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[-1] == ("lenet_parity.errors.UserInputError: layer: my_layer.py not found (give "
                         "path/to/file.py[:CLASS], relative to the current directory)"), out.stderr
    assert "During handling" not in out.stderr and "direct cause" not in out.stderr, out.stderr
    assert [line.split('"')[1].rsplit("/", 1)[-1] for line in lines if line.startswith('  File "')] == \
        ["script.py", "api.py"], out.stderr


def test_a_users_pytest_file_fails_on_bad_input_with_one_line_and_no_traceback(tmp_path):
    (tmp_path / "test_mine.py").write_text(USER_TEST)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 1 and "2 failed" in out.stdout, out.stdout
    assert "Traceback" not in out.stdout + out.stderr, out.stdout
    lines = out.stdout.splitlines()
    helper = lines[lines.index(next(line for line in lines if " test_helper " in line)) + 1]
    assert helper == ("lenet-parity: bad input: layer: my_layer.py not found (give path/to/file.py[:CLASS], "
                      "relative to the current directory)"), out.stdout
    fixture = lines[lines.index(next(line for line in lines if " test_fixture " in line)) + 1]
    assert fixture.startswith("lenet-parity: bad input: unknown layer type 'relux'; choose one of"), out.stdout
    assert not [line for line in lines if line.startswith(("E ", "> "))], out.stdout  # pytest's traceback marks
