"""The check modes: snapshot, hybrid, sweep and train, each ``run_<mode>(layer_names, make_layer, ...)``.

Every mode returns its CheckResults in the order a reader should see them (forward, then backward), so
CheckRun.first_failure is the first divergence; see notes on the mode interface in harness/results.py.
"""
