"""Ablation tables: one run per variant (tables.py) and several seeds per variant (seeds.py),
shared by `vadkit ablate` and the report, so the report never imports the command line."""
