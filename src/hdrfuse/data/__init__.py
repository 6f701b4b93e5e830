"""Datasets and synthetic data: camera simulation, bracket synthesis, dataset readers."""

from .synthesis import CRFS, apply_crf, expose, exposures_for, inverse_crf

__all__ = ["CRFS", "apply_crf", "expose", "exposures_for", "inverse_crf"]
