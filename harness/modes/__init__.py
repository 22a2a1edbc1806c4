"""The check modes, each ``run_<mode>(layer_names, make_layer, *, dtype, phase0, weights_path, tol, **options)``.

snapshot and sweep check a layer alone; hybrid and train check it inside torch's LeNet (harness/swap.py).
Each returns CheckResults in reading order (forward, then backward), so CheckRun.first_failure is the
first divergence.
"""
