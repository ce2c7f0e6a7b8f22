"""python -m bench: see bench/harness.py and bench/README.md."""
import sys

from bench.harness import main

sys.exit(main())
