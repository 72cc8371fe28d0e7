"""Fitted-model records, input checks, the shared optimiser and the soundness check."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import optimize

from rfm.errors import ConfigError, InputError, ModelError, RfmWarning

DAYS_PER_MONTH = 30.4375  # 365.25 / 12
# Optimiser box, in natural units (the search runs on log-parameters).
PARAM_MIN, PARAM_MAX = 1e-8, 1e8
LOG_LO, LOG_HI = math.log(PARAM_MIN), math.log(PARAM_MAX)
ABSURD = 1e6
GRAD_TOL = 1e-6  # on the per-customer mean negative log-likelihood
# A parameter whose standard error on the log scale exceeds this is not pinned down by the data
# (one standard error spans a factor e^2 = 7.4 either way); CDNOW's BG/NBD errors are 0.05-0.29.
MAX_LOG_SE = 2.0


# ---- fitted-model records --------------------------------------------------
class Fit:
    """Shared (de)serialisation: ``to_dict`` is JSON/YAML friendly."""

    MODEL = ""
    PARAMS: tuple[str, ...] = ()

    def params(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.PARAMS}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)  # type: ignore[call-overload]
        return {"model": self.MODEL, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        """Inverse of ``to_dict``; raises ConfigError naming the bad key."""
        where = f"fitted {cls.MODEL} model"
        if not isinstance(d, Mapping) or d.get("model", cls.MODEL) != cls.MODEL:
            found = d.get("model") if isinstance(d, Mapping) else type(d).__name__
            raise ConfigError(f"{where}: expected a mapping with model: {cls.MODEL!r}, found {found!r}")
        kw: dict[str, Any] = {"message": str(d.get("message", ""))}
        for name in [f.name for f in fields(cls) if f.name != "message"]:  # type: ignore[arg-type]
            if name not in d:
                raise ConfigError(f"{where}: key {name!r} is missing; re-fit the model and save it again")
            v = d[name]
            ok = isinstance(v, bool) if name == "converged" else (
                isinstance(v, (int, float)) and not isinstance(v, bool))
            if not ok or (name in cls.PARAMS and not (math.isfinite(v) and v > 0)):
                raise ConfigError(f"{where}: key {name!r} = {v!r}; expected "
                                  + ("true/false" if name == "converged" else
                                     "a finite number > 0" if name in cls.PARAMS else "a number"))
            kw[name] = v if name == "converged" else float(v)
        return cls(**kw)


@dataclass(frozen=True)
class BgNbdFit(Fit):
    """BG/NBD parameters. Transaction rate lambda ~ Gamma(r, alpha) (alpha in
    the time unit of the data), dropout probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: float
    converged: bool
    message: str = ""
    MODEL = "bgnbd"
    PARAMS = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class ParetoNbdFit(Fit):
    """Pareto/NBD parameters. Transaction rate lambda ~ Gamma(r, alpha), dropout rate
    mu ~ Gamma(s, beta) (alpha and beta in the time unit of the data)."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n_customers: float
    converged: bool
    message: str = ""
    MODEL = "pnbd"
    PARAMS = ("r", "alpha", "s", "beta")


@dataclass(frozen=True)
class GammaGammaFit(Fit):
    """Gamma-Gamma spend parameters: spend per transaction ~ Gamma(p, nu),
    nu ~ Gamma(q, gamma); population mean spend = p * gamma / (q - 1)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: float
    converged: bool
    message: str = ""
    MODEL = "gamma_gamma"
    PARAMS = ("p", "q", "gamma")


# ---- input checking --------------------------------------------------------
def as_arrays(nan_ok: str = "", **named: Any) -> list[np.ndarray]:
    """Broadcast to float64 arrays; every value must be finite (the array
    named ``nan_ok`` may hold NaN where the first array is 0: mean spend of
    customers without repeat purchases)."""
    try:
        arrs = list(np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in named.values()]))
    except (TypeError, ValueError) as e:
        raise InputError(f"model inputs {list(named)}: cannot be read as numeric arrays of one shape ({e})") from None
    for i, (name, a) in enumerate(zip(named, arrs)):
        if name == nan_ok:
            a = arrs[i] = np.where(arrs[0] == 0, 0.0, a)
        if not np.isfinite(a).all():
            raise InputError(f"model input {name!r}: contains NaN or infinite values; drop or fill those customers")
    return arrs


def check_customers(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Validate (x, t_x, T); return t_x clipped to [0, T] (t_x ignored if x == 0)."""
    if (x < 0).any() or (x != np.floor(x)).any():
        raise InputError("BG/NBD input 'x': repeat transactions must be integers >= 0")
    if (T < 0).any():
        raise InputError("BG/NBD input 'T': customer age must be >= 0")
    txp = np.where(x > 0, t_x, 0.0)
    if (txp < 0).any() or (txp > T * (1 + 1e-9) + 1e-9).any():
        raise InputError("BG/NBD input 't_x': recency must satisfy 0 <= t_x <= T for customers with x > 0")
    return np.minimum(txp, T)


def fit_inputs(model: str, x, t_x, T, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """(x, t_x, T, weights, customers) of the customers with weight > 0, checked for a fit of
    ``model`` (BG/NBD, Pareto/NBD): ModelError when there is nothing to identify the rates on."""
    x, t_x, T, w = (np.ravel(v) for v in as_arrays(x=x, t_x=t_x, T=T, weights=1.0 if weights is None else weights))
    if (w < 0).any():
        raise InputError(f"{model} input 'weights': customer counts must be >= 0")
    t_x = check_customers(x, t_x, T)
    keep = w > 0
    x, t_x, T, w = x[keep], t_x[keep], T[keep], w[keep]
    n = float(w.sum())
    if n == 0:
        raise ModelError(f"{model} fit: no customers (all weights zero or empty input)")
    if not (x > 0).any():
        raise ModelError(f"{model} fit: no customer has a repeat transaction (all x == 0); "
                         "the purchase and dropout rates cannot be identified")
    if not (T > 0).any():
        raise ModelError(f"{model} fit: every customer has T == 0; no observation time to fit rates on")
    return x, t_x, T, w, n


def fit_model(cls: type, label: str, fun: Objective, starts: Sequence[np.ndarray], n: float) -> Any:
    """Optimise ``fun`` from ``starts``, judge convergence and identification, and build the ``cls``
    record (a warning names an unusable fit; see fit_is_sound)."""
    th, f, ok, msg = optimise(fun, [np.clip(s, LOG_LO, LOG_HI) for s in starts])
    if ok:
        ok, why = identification(fun, th, n, cls.PARAMS)
        msg = f"{msg}; {why}" if ok else f"not identified: {why}"
    if not ok:
        warnings.warn(f"{label} fit: {msg}", RfmWarning, stacklevel=3)
    return cls(*(float(v) for v in np.exp(th)), log_likelihood=float(-f * n), n_customers=n, converged=ok,
               message=msg)


def discounted(p_alive: np.ndarray, if_alive: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...], *,
               horizon_months: int, monthly_discount: float, time_unit_days: float) -> np.ndarray:
    """P(alive) * sum_{m=1..H} (E[Y(tau_m) | alive] - E[Y(tau_{m-1}) | alive]) / (1+d)^m, with
    tau_m = m * 30.4375 / time_unit_days and ``if_alive(t)`` = E[Y(t) | alive] per customer."""
    if int(horizon_months) != horizon_months or horizon_months < 0:
        raise InputError(f"horizon_months: expected an integer >= 0, found {horizon_months!r}")
    if not (monthly_discount > -1 and math.isfinite(monthly_discount)):
        raise InputError(f"monthly_discount: expected a number > -1, found {monthly_discount!r}")
    if not (time_unit_days > 0 and math.isfinite(time_unit_days)):
        raise InputError(f"time_unit_days: expected a number > 0, found {time_unit_days!r}")
    step = DAYS_PER_MONTH / time_unit_days
    det = np.zeros(shape)
    prev = np.zeros_like(det)
    for m in range(1, int(horizon_months) + 1):
        cur = if_alive(np.full(shape, m * step))
        det += (cur - prev) / (1 + monthly_discount) ** m
        prev = cur
    return p_alive * det


def scalar_or_array(a: np.ndarray):
    return float(a) if a.ndim == 0 else a


# ---- shared optimiser: L-BFGS-B (Nelder-Mead fallback) on log-params + Newton polish ----
Objective = Callable[[np.ndarray], "tuple[float, np.ndarray]"]


def num_hessian(fun: Objective, th: np.ndarray, h: float = 1e-5) -> np.ndarray:
    k = len(th)
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        H[i] = (fun(th + e)[1] - fun(th - e)[1]) / (2 * h)
    return (H + H.T) / 2


def newton_polish(fun: Objective, th: np.ndarray, iters: int = 25):
    """Damped Newton steps with a finite-difference Hessian of the analytic
    gradient: drives the gradient to ~1e-10 so that fits on grouped and
    ungrouped data agree to many digits."""
    f, g = fun(th)
    for _ in range(iters):
        if np.max(np.abs(g)) < 1e-11:
            break
        H = num_hessian(fun, th)
        try:
            np.linalg.cholesky(H)
            step = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        lam, moved = 1.0, False
        while lam > 1e-6:
            new = np.clip(th + lam * step, LOG_LO, LOG_HI)
            f2, g2 = fun(new)
            if np.isfinite(f2) and (f2 < f - 1e-15 * abs(f) or
                                    (f2 <= f + 1e-13 * abs(f) and np.max(np.abs(g2)) < np.max(np.abs(g)))):
                th, f, g, moved = new, f2, g2, True
                break
            lam /= 2
        if not moved or np.max(np.abs(lam * step)) < 1e-13:
            break
    return th, f, g


def optimise(fun: Objective, starts: Sequence[np.ndarray]):
    """Minimise ``fun`` (value, gradient) over log-parameters; returns
    (theta, value, converged, message) of the best start."""
    best = None

    def safe(th):
        f, g = fun(th)
        if not (np.isfinite(f) and np.isfinite(g).all()):
            return 1e300, np.zeros_like(th)
        return f, g

    bounds = [(LOG_LO, LOG_HI)] * len(starts[0])
    for th0 in starts:
        with np.errstate(all="ignore"):
            res = optimize.minimize(safe, th0, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10})
            if not (np.isfinite(res.fun) and res.fun < 1e299):
                res = optimize.minimize(lambda th: safe(th)[0], th0, method="Nelder-Mead",
                                        options={"maxiter": 4000, "xatol": 1e-9, "fatol": 1e-13})
            if not (np.isfinite(res.fun) and res.fun < 1e299):
                continue
            th, f, g = newton_polish(safe, np.clip(res.x, LOG_LO, LOG_HI))
        gmax = float(np.max(np.abs(g)))
        at_bound = bool(np.any(th <= LOG_LO + 1e-6) or np.any(th >= LOG_HI - 1e-6))
        ok = gmax < GRAD_TOL and not at_bound
        msg = f"{'' if ok else 'not '}converged: max |gradient| {gmax:.1e}"
        msg += ", a parameter is at the optimiser bound" if at_bound else ""
        if best is None or (ok, -f) > (best[2], -best[1]):
            best = (th, f, ok, msg)
        if ok:
            break
    if best is None:
        raise ModelError("model fit: the log-likelihood is not finite at any starting point; "
                         "check the inputs (or pass initial=...)")
    return best



def identification(fun: Objective, th: np.ndarray, n: float, names: Sequence[str]) -> tuple[bool, str]:
    """Whether the data pin the parameters down at the optimum ``th`` (log-parameters) of a mean
    negative log-likelihood over ``n`` customers: the observed information is positive definite and
    every log-parameter's standard error is at most MAX_LOG_SE.  A flat or singular likelihood (a
    handful of repeat buyers) gives a converged optimiser but parameters that mean nothing."""
    with np.errstate(all="ignore"):
        H = num_hessian(fun, th) * n
    if not np.isfinite(H).all():
        return False, "the likelihood's curvature is not finite at the optimum"
    try:
        np.linalg.cholesky(H)
        se = np.sqrt(np.diag(np.linalg.inv(H)))
    except np.linalg.LinAlgError:
        return False, "the likelihood is flat or singular at the optimum: the data do not pin the parameters down"
    worst = int(np.argmax(se))
    if not se[worst] <= MAX_LOG_SE:
        return False, (f"the data do not pin {names[worst]} down (standard error {se[worst]:.3g} on the log scale, "
                       f"above {MAX_LOG_SE:g})")
    return True, f"log-scale standard errors {', '.join(f'{k} {v:.3f}' for k, v in zip(names, se))}"


# ---- soundness check for ``auto`` mode -------------------------------------
def fit_is_sound(fit: BgNbdFit | ParetoNbdFit | GammaGammaFit) -> tuple[bool, str]:
    """(True, "ok") for a converged fit with finite, positive, non-absurd
    parameters away from the optimiser bounds; else (False, reason)."""
    if not fit.converged:
        return False, f"{fit.MODEL} fit {fit.message}"
    if not math.isfinite(fit.log_likelihood):
        return False, f"{fit.MODEL} log-likelihood is not finite"
    for k, v in fit.params().items():
        if not (math.isfinite(v) and v > 0):
            return False, f"{fit.MODEL} parameter {k} = {v!r} is not finite and positive"
        if abs(math.log(v) - LOG_LO) < 1e-3 or abs(math.log(v) - LOG_HI) < 1e-3:
            return False, f"{fit.MODEL} parameter {k} = {v:.3g} is at the optimiser bound"
        if not 1 / ABSURD < v < ABSURD:
            return False, f"{fit.MODEL} parameter {k} = {v:.3g} is absurd (outside {1 / ABSURD:g}..{ABSURD:g})"
    if isinstance(fit, BgNbdFit) and fit.r / fit.alpha >= ABSURD:
        return False, f"bgnbd mean purchase rate r/alpha = {fit.r / fit.alpha:.3g} is absurd"
    if isinstance(fit, GammaGammaFit) and fit.q <= 1:
        return False, f"gamma_gamma q = {fit.q:.3g} <= 1: the population mean spend is infinite"
    return True, "ok"
