"""hdrfuse: turn a bracket of exposures into one well-exposed image or an HDR radiance map.

    >>> import hdrfuse
    >>> {"mertens", "debevec"} <= set(hdrfuse.available_methods())
    True
"""

from .api import fuse, run_method
from .bracket import Bracket, make_bracket
from .errors import HdrfuseError, InputError
from .methods import Result, available_methods, get_method, register

__version__ = "0.1.0"

__all__ = [
    "Bracket",
    "HdrfuseError",
    "InputError",
    "Result",
    "__version__",
    "available_methods",
    "fuse",
    "get_method",
    "make_bracket",
    "register",
    "run_method",
]
