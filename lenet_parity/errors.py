"""The errors the CLI turns into exit codes: bad input is exit 2, a parity mismatch exit 1."""


class UserInputError(Exception):
    """Bad input from the user (a file, a dataset, an option): one line saying what and how to fix it.

    The CLI prints ``error: <message>`` and exits with code 2; the Python API raises it with no chained traceback;
    the pytest helper fails the test with the line alone. A message built from text with line breaks in it (a
    user's exception) is kept on one line.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(" ".join(part.strip() for part in str(message).splitlines() if part.strip()))


EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
