"""Putting the stages to work: the pass, the service, workers, locks, metrics, logs."""
