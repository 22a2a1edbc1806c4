"""The checking product: comparison and tolerances, the check context and runner, the modes, the swapper,
results and reports, the bug zoo, trace, grading, the cases for programs in other languages (portable/), and
the CLI (cli.py, the only module that prints or exits).

May import lenet_parity, reference, custom_layers and conventions; imports custom_lenet and experiments only in cli.py.
"""
