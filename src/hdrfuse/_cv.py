"""OpenCV, imported once with its console logging limited to errors."""

from __future__ import annotations

import cv2

try:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:  # pragma: no cover - very old OpenCV builds
    pass

__all__ = ["cv2"]
