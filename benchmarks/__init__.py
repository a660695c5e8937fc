"""The benchmark suite of bcb2b_async: ``python -m benchmarks [--quick]``.

Every row measures the library and its baseline in the same run, interleaved, over
several rounds, against servers running in their own processes (the sandbox store and a
pre-serialized page server), and reports medians, spreads and the ratio to a target.
See ``benchmarks/__main__.py`` for the rows and ``benchmarks/results.md`` for the last run.
"""
