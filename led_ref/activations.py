"""Activation functions by HF's ``ACT2FN`` names, in NumPy.

NumPy has no ``erf``, so the exact GELU needs one: ``erf`` below is a piecewise polynomial
built at import time by Chebyshev interpolation of Python's ``math.erf`` (double precision).
float64 inputs use that table (accurate to ~2e-15); float32 inputs use Abramowitz & Stegun
7.1.26 (|error| < 1e-6), which needs no table look-ups and keeps the float32 path fast.
See spec/SPEC.md#activations.
"""

import math

import numpy as np

__all__ = ["ACT2FN", "SAME_AS", "get_activation", "erf", "gelu", "gelu_new"]

# The constants of the definitions below, one home for them: the torch graph (led_ref.export.torch_model)
# builds its activations from these too.
GELU_TANH_SCALE = math.sqrt(2.0 / math.pi)  # gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
GELU_TANH_CUBIC = 0.044715
GELU_FAST_SCALE = 0.7978845608  # gelu_fast: HF's rounded sqrt(2/pi)
QUICK_GELU_SCALE = 1.702
GELU_10_BOUND = 10.0
LAPLACE_MU, LAPLACE_SIGMA = 0.707107, 0.282095
LEAKY_RELU_SLOPE = 0.01  # torch's default
RELU6_BOUND = 6.0


def _erf_table(width, x_max, degree):
    """Monomial coefficients (highest first) of erf on [i*width, (i+1)*width] in t in [-1, 1]."""
    erf_vec = np.vectorize(math.erf, otypes=[np.float64])
    rows = []
    for i in range(int(round(x_max / width))):

        def erf_on_interval(t, left=i * width):  # t in [-1, 1] -> erf on [left, left + width]
            return erf_vec(left + (t + 1.0) * width / 2.0)

        cheb = np.polynomial.chebyshev.chebinterpolate(erf_on_interval, degree)
        rows.append(np.polynomial.chebyshev.cheb2poly(cheb)[::-1])
    return np.ascontiguousarray(np.array(rows).T)  # (degree + 1, n_intervals)


# float64: (width, x_max, degree) of the Chebyshev table; beyond x_max erf(x) rounds to +-1.
_ERF64 = (0.25, 6.0, 12)
_ERF64_TABLE: list[np.ndarray] = []  # built on first use

# float32: Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7 (about 6e-7 once evaluated in float32);
# no table gathers, so it runs at the speed of a few elementwise passes.
_AS_P = 0.3275911
_AS_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)  # a5 .. a1


def _erf64(x):
    width, x_max, degree = _ERF64
    if not _ERF64_TABLE:
        _ERF64_TABLE.append(_erf_table(width, x_max, degree))
    table = _ERF64_TABLE[0]
    ax = np.minimum(np.abs(x), x_max)
    scaled = ax * (1.0 / width)
    idx = np.minimum(scaled.astype(np.intp), table.shape[1] - 1)
    t = (scaled - idx) * 2.0 - 1.0  # position inside the interval, in [-1, 1]
    y = table[0][idx]
    for k in range(1, degree + 1):
        y *= t
        y += table[k][idx]
    y[ax >= x_max] = 1.0
    return np.copysign(y, x, out=y)


def _erf32(x):
    f = np.float32
    ax = np.abs(x)
    t = ax * f(_AS_P)
    t += f(1.0)
    np.reciprocal(t, out=t)
    y = np.full_like(x, f(_AS_A[0]))
    for a in _AS_A[1:]:
        y *= t
        y += f(a)
    y *= t
    np.square(ax, out=ax)
    np.negative(ax, out=ax)
    np.exp(ax, out=ax)
    y *= ax
    np.subtract(f(1.0), y, out=y)
    return np.copysign(y, x, out=y)


def erf(x):
    """The error function, elementwise, in the dtype of ``x`` (float64 stays float64, else float32)."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        return _erf64(x)
    return _erf32(x.astype(np.float32, copy=False))


def gelu(x):
    """Exact GELU: x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))) (HF "gelu", torch's default)."""
    if x.dtype == np.float32:
        return _gelu32(x)
    dt = x.dtype.type
    return x * (dt(0.5) * (dt(1.0) + erf(x * dt(1.0 / math.sqrt(2.0)))))


_GELU_CHUNK = 1 << 16  # elements per piece: the temporaries stay in the L2 cache


def _gelu32(x):
    """float32 GELU with the A&S erf, evaluated piecewise in place (spec/SPEC.md#activations).

    With t = 1 / (1 + p |x| / sqrt 2) and q = 0.5 * poly(t) * exp(-x^2 / 2) = Phi(-|x|) (the
    erf formula above, rearranged): x Phi(x) = max(x, 0) - |x| q for either sign of x, which
    needs no sign select (a select between q and 1 - q costs a pass over x and a temporary).
    """
    f = np.float32
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat)
    n = min(flat.size, _GELU_CHUNK)
    t, y, z = (np.empty(n, np.float32) for _ in range(3))
    p = f(_AS_P / math.sqrt(2.0))
    coef = [f(0.5 * a) for a in _AS_A]  # the 0.5 of q folded in (exact: a power of two)
    for start in range(0, flat.size, n):
        xc = flat[start : start + n]
        m = xc.size
        tc, yc, zc, oc = t[:m], y[:m], z[:m], out[start : start + m]
        np.abs(xc, out=zc)
        np.minimum(zc, f(1e18), out=zc)  # q is 0 there already; avoids inf * 0 and x^2 overflow
        np.multiply(zc, p, out=tc)
        tc += f(1.0)
        np.reciprocal(tc, out=tc)
        np.multiply(tc, coef[0], out=yc)
        for a in coef[1:]:
            yc += a
            yc *= tc
        np.square(zc, out=tc)
        tc *= f(-0.5)
        np.exp(tc, out=tc)
        yc *= tc  # q = Phi(-|x|)
        yc *= zc  # |x| q
        np.maximum(xc, f(0.0), out=oc)
        oc -= yc
    return out.reshape(x.shape)


def gelu_new(x):
    """Tanh approximation of GELU (HF "gelu_new", "gelu_pytorch_tanh")."""
    dt = x.dtype.type
    inner = dt(GELU_TANH_SCALE) * (x + dt(GELU_TANH_CUBIC) * x**3)
    return dt(0.5) * x * (dt(1.0) + np.tanh(inner))


def gelu_fast(x):
    """HF "gelu_fast": 0.5 x (1 + tanh(x * 0.7978845608 (1 + 0.044715 x^2)))."""
    dt = x.dtype.type
    return dt(0.5) * x * (dt(1.0) + np.tanh(x * dt(GELU_FAST_SCALE) * (dt(1.0) + dt(GELU_TANH_CUBIC) * x * x)))


def quick_gelu(x):
    """HF "quick_gelu": x * sigmoid(1.702 x)."""
    return x * sigmoid(x * x.dtype.type(QUICK_GELU_SCALE))


def relu(x):
    return np.maximum(x, x.dtype.type(0))


def relu6(x):
    return np.clip(x, x.dtype.type(0), x.dtype.type(RELU6_BOUND))


def sigmoid(x):
    """Logistic function without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def silu(x):
    """HF "silu" / "swish": x * sigmoid(x)."""
    return x * sigmoid(x)


def mish(x):
    """HF "mish": x * tanh(softplus(x))."""
    return x * np.tanh(np.logaddexp(x.dtype.type(0), x))


def tanh(x):
    return np.tanh(x)


def linear(x):
    return x


def gelu_10(x):
    """HF "gelu_10": exact GELU clipped to [-10, 10]."""
    return np.clip(gelu(x), x.dtype.type(-GELU_10_BOUND), x.dtype.type(GELU_10_BOUND))


def laplace(x, mu=LAPLACE_MU, sigma=LAPLACE_SIGMA):
    """HF "laplace": 0.5 (1 + erf((x - mu) / (sigma sqrt 2)))."""
    dt = x.dtype.type
    return dt(0.5) * (dt(1.0) + erf((x - dt(mu)) / dt(sigma * math.sqrt(2.0))))


def leaky_relu(x):
    """HF "leaky_relu" (torch default slope 0.01)."""
    return np.where(x >= 0, x, x * x.dtype.type(LEAKY_RELU_SLOPE))


def relu2(x):
    """HF "relu2": relu(x) ** 2."""
    return np.square(relu(x))


ACT2FN = {
    "gelu": gelu,
    "gelu_python": gelu,
    "gelu_accurate": None,  # filled below (needs its own formula)
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,
    "gelu_fast": gelu_fast,
    "quick_gelu": quick_gelu,
    "relu": relu,
    "relu6": relu6,
    "sigmoid": sigmoid,
    "silu": silu,
    "swish": silu,
    "mish": mish,
    "tanh": tanh,
    "linear": linear,
    "gelu_10": gelu_10,
    "laplace": laplace,
    "leaky_relu": leaky_relu,
    "relu2": relu2,
}


def gelu_accurate(x):
    """HF "gelu_accurate": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return gelu_new(x)


ACT2FN["gelu_accurate"] = gelu_accurate


# Names that are another name's function (HF's aliases): a backend implements the right-hand side once.
SAME_AS = {"gelu_python": "gelu", "gelu_pytorch_tanh": "gelu_new", "gelu_accurate": "gelu_new", "swish": "silu"}


def get_activation(name):
    """The activation for an HF ``activation_function`` name; ValueError lists the supported names."""
    if name not in ACT2FN:
        raise ValueError(f"activation_function {name!r} is not supported; supported names: {', '.join(sorted(ACT2FN))}")
    return ACT2FN[name]
