"""The gate's policy: one run's results, coverage and benchmarks + history + registry + rules
-> a GateDecision with every reason. Pure: no I/O; the API gathers the inputs."""
