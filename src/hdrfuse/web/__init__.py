"""``hdrfuse serve``: a local web page to fuse a bracket and look at the result (:mod:`.app`)."""

from .app import Job, Limits, create_app, run_job

__all__ = ["Job", "Limits", "create_app", "run_job"]
