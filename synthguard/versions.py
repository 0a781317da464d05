"""The versions of synthguard and the libraries its numbers depend on (for passports and results)."""

from __future__ import annotations

import platform

from . import __version__


def library_versions() -> dict[str, str]:
    import numpy
    import pandas
    import scipy
    import sdmetrics
    import sklearn
    import torch

    return {"synthguard": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "pandas": pandas.__version__, "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__, "sdmetrics": sdmetrics.__version__}
