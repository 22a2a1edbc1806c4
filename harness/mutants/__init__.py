"""The bug zoo: deliberately broken layers (classic real bugs), each run through the harness.

catalogue.py lists them (where each is planted and where it must be caught); conv_pool.py and
dense_head.py hold the broken classes, each a small subclass of the correct NumPy layer; verdict.py
judges one run (caught? localised?); runner.py runs the zoo and the correct layers, the table and --json.
May import the NumPy layers it breaks and the rest of harness.
"""
