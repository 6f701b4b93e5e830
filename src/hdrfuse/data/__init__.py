"""Datasets and synthetic data: camera simulation, bracket synthesis, dataset readers, supervision."""

from .datasets import Sequence, detect_layout, folder_sequences, kalantari_sequences, load_sequences, sice_sequences
from .supervision import middle_frame_target, pseudo_reference
from .synthesis import (
    CRFS,
    SyntheticBracket,
    apply_crf,
    expose,
    exposures_for,
    inverse_crf,
    srgb_to_linear,
    synthesize_from_hdr,
    synthesize_from_photo,
)

__all__ = [
    "CRFS",
    "Sequence",
    "SyntheticBracket",
    "apply_crf",
    "detect_layout",
    "expose",
    "exposures_for",
    "folder_sequences",
    "inverse_crf",
    "kalantari_sequences",
    "load_sequences",
    "middle_frame_target",
    "pseudo_reference",
    "sice_sequences",
    "srgb_to_linear",
    "synthesize_from_hdr",
    "synthesize_from_photo",
]
