"""Validation without the test split: pseudo-anomalies drawn into held-out normal training
videos (``pseudo``, ``clips``), the AUC ``vadkit validate`` reports (``validate``) and the
per-statistic evidence calibration weights by (``evidence``). Import the submodules; this
package imports nothing eagerly, so calibration can use ``evidence`` without pulling in the
evaluation job."""

from ..pseudo.anomalies import KINDS, pseudo_videos

__all__ = ["KINDS", "pseudo_videos"]
