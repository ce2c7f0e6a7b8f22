"""Fidelity against the real kernel: record scenarios in network namespaces
(``python -m bench.kernel record``, root only) and replay them through the
model (``python -m bench.kernel report``; tests/fidelity)."""
