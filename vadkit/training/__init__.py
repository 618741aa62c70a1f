"""Training: loss, checkpoints, the loop and the run folder."""
