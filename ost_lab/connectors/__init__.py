"""Data feeds and brokers: the simulated venue for sandbox and the Interactive Brokers adapter."""
