"""The errors the CLI turns into exit codes: bad input is exit 2, a parity mismatch exit 1."""


class UserInputError(Exception):
    """Bad input from the user (a file, a dataset, an option): one line saying what and how to fix it.

    The CLI prints ``error: <message>`` and exits with code 2.
    """


EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
