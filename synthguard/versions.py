"""The versions of synthguard and the libraries its numbers depend on, and the CPU they ran on
(for passports and results)."""

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


def machine() -> dict[str, str]:
    """The CPU of this process (a release's: where its model trained; an audit's shadows on a Dask
    cluster may have trained elsewhere): its model name and the instruction set torch's kernels
    dispatch to (MKL and oneDNN choose theirs by the CPU too). The same seed trains the same model
    again on the same kind of CPU with the same libraries, and another model, as valid a draw of the
    recipe, on another: the order of floating-point sums differs (seed 0 of MedExp's default recipe
    gave three different fits, on two CPUs and on one of them with its kernels held to AVX2;
    benchmarks/README.md, `short_fits.py`)."""
    import torch

    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cpu": model, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
