"""Training a run: the loop and what it uses (batches, lr schedule, optimizer, signals, metrics,
data parallelism), and `train`, which drives it on a run directory."""
