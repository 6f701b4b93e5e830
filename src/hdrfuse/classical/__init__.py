"""Classical methods, one module per paper: ``mertens2007``, ``debevec1997``, tonemapping."""

from .debevec1997 import calibrate_response, debevec1997, merge_debevec
from .mertens2007 import mertens2007, mertens_weights
from .tonemap import MU, drago, mu_law, reinhard, tonemap

__all__ = [
    "MU",
    "calibrate_response",
    "debevec1997",
    "drago",
    "merge_debevec",
    "mertens2007",
    "mertens_weights",
    "mu_law",
    "reinhard",
    "tonemap",
]
