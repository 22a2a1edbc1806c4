"""The bug zoo: deliberately broken layers (classic real bugs), each run through the harness.

catalogue.py lists them (where each is planted, in which reference model, and where it must be caught);
conv_pool.py, dense_head.py and new_types.py hold the broken classes, each a small subclass of the correct
NumPy layer; verdict.py judges one run (caught? localised?); runner.py runs the zoo and the correct layers of
each reference model, the table and --json.
May import the NumPy layers it breaks and the rest of harness.
"""
