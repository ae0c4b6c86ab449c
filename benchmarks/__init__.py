"""Speed and memory benchmarks; run them all with ``python -m benchmarks``."""
