"""Layers in any language: the layer-alone cases as plain ``.npy`` files, and the check of a program's answers.

``plan.py`` lists the cases (the snapshot and sweep modes' own, rebuilt the same way each time), ``export.py``
writes their inputs and a manifest (never the expected values), ``answers.py`` reads a program's answers and
checks them with the same comparison, tolerances, statuses and diagnoses as ``check``, and ``repro.py`` writes,
for each failing case, the inputs, the expected and the got values beside a one-page explanation.
"""
