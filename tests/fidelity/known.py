"""Where the model does not (yet) match the recorded kernel, and why.

Keys: (scenario, counter) / (scenario, client port) / (scenario, check).
Every entry names the kernel behaviour that is not modelled or modelled
wrong; the diagnosis with kernel function and values is in the fidelity
report (bench/kernel/README.md).  Remove an entry when the model is fixed
(the strict xfail turns into a failure until then).
"""

COUNTERS = {}
OUTCOMES = {}
WINDOWS = {}
