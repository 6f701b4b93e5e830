"""Learned MEF peers of the two-phase engine, re-implemented from their papers and trained here on the
same data and objective (``configs/mefnet_sice.yaml``, ``configs/ifcnn_sice.yaml``), so the comparison
with ``twophase`` in ``hdrfuse eval`` is on equal terms."""

from .ifcnn2020 import IFCNN
from .mefnet2019 import MEFNet, guided_filter

__all__ = ["IFCNN", "MEFNet", "guided_filter"]
