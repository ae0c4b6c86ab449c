"""Historical replays in the kernel: numba kernels for the simulated venue and kernel strategies."""
