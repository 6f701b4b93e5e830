"""Learned engines: ``twophase`` (UNet + AMNet MEF), ``flexhdr`` (FlexHDR and the AHDRNet baseline),
and the layers they share. Training (``hdrfuse.train``) builds these same modules."""
