"""Pseudo-anomalies drawn into held-out normal videos (anomalies.py), their clips (clips.py) and
what each scorer statistic tells about them (evidence.py): shared by calibration's evidence
weights and `vadkit validate`, so neither job imports the other."""
