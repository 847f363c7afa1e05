"""Brent's root finder, ported from R's ``R_zeroin2`` (src/library/stats/src/zeroin.c).

The port is deliberate: ``wilcox.test`` finds its Hodges-Lehmann estimate and interval
ends with ``uniroot``, and on the step functions involved the point Brent's method lands
on depends on the exact sequence of steps. Reproducing R's numbers (as Kayenta does)
requires reproducing R's iteration, which scipy's ``brentq`` does not promise.

:mod:`monitor.stats.exact` needs no R parity but uses it too: ``brentq`` would do there, but
importing ``scipy.optimize`` would add about 0.2 s to every ``monitor analyze``, whose whole
start-up budget is 0.5 s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

_EPSILON = sys.float_info.epsilon


def zeroin(
    f: Callable[[float], float],
    lower: float,
    upper: float,
    *,
    f_lower: float | None = None,
    f_upper: float | None = None,
    tol: float = 1e-4,
    maxiter: int = 1000,
) -> float:
    """Return a root of ``f`` in ``[lower, upper]`` as R's ``uniroot`` would.

    ``f(lower)`` and ``f(upper)`` must differ in sign (or one be zero); ``tol`` is R's
    default for ``uniroot`` in ``wilcox.test``.
    """
    a, b = lower, upper
    fa = f(a) if f_lower is None else f_lower
    fb = f(b) if f_upper is None else f_upper
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0) == (fb > 0):
        raise ValueError("f(lower) and f(upper) must have opposite signs")
    c, fc = a, fa
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPSILON * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b
