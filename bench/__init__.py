"""pystack benchmark suite: trace generator (bench.gen) and harness (bench.harness).

Run ``python -m bench --help`` and see bench/README.md.
"""
