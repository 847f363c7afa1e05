"""The ``scipy.special`` functions the statistics use, loaded without the package's import cost.

``import scipy.special`` costs about 0.2 s beyond numpy: the package wraps every function for
array-API backends as it is imported, which pulls in ``numpy.testing``, ``numpy.f2py``, ``unittest``
and ``email``. That is more than a one-shot ``monitor analyze`` spends on everything else it
imports (bench/README.md, analyze latency). The functions used here are numpy ufuncs compiled in
``scipy.special._ufuncs``: the very objects ``scipy.special`` exports (``scipy.special.ndtri is
scipy.special._ufuncs.ndtri``), so results are the same to the bit. This module loads that
extension module alone; when ``scipy.special`` is already imported, it is used as it is.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import scipy

__all__ = ["bdtr", "bdtrc", "bdtrik", "betaincinv", "gammaincinv", "gammaln", "ndtri"]


def _ufuncs() -> Any:
    """``scipy.special._ufuncs``, without running ``scipy/special/__init__.py`` if not yet run."""
    if "scipy.special" in sys.modules:
        return importlib.import_module("scipy.special._ufuncs")
    # A bare package stands in for scipy.special while the extension module loads, so the
    # package's __init__ does not run. It is removed at once: a later ``import scipy.special``
    # runs in full and finds the extension module already loaded. Imported at start-up, by one
    # thread, as every module of this package is.
    stand_in = types.ModuleType("scipy.special")
    stand_in.__path__ = [str(Path(scipy.__file__).parent / "special")]
    sys.modules["scipy.special"] = stand_in
    try:
        return importlib.import_module("scipy.special._ufuncs")
    finally:
        if sys.modules.get("scipy.special") is stand_in:
            del sys.modules["scipy.special"]


if TYPE_CHECKING:  # the stubs' precise signatures
    from scipy.special import bdtr, bdtrc, bdtrik, betaincinv, gammaincinv, gammaln, ndtri
else:
    _loaded = _ufuncs()
    bdtr, bdtrc, bdtrik = _loaded.bdtr, _loaded.bdtrc, _loaded.bdtrik
    betaincinv, gammaincinv, gammaln, ndtri = (
        _loaded.betaincinv,
        _loaded.gammaincinv,
        _loaded.gammaln,
        _loaded.ndtri,
    )
