"""Random-access value noise: the same (seed, position) always gives the same value.

Scenery is painted over whatever canonical extent the camera path needs, so its textures
must not depend on the extent's size or offset: lattice values come from an integer hash of
(seed, lattice index), never from a stream of random draws.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
#: 2D lattice rows are offset by this odd constant so (i, j) and (j, i) differ.
_ROW_STRIDE = np.uint64(0x632BE59BD9B4E019)


def _splitmix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # splitmix64 finaliser: a fast, well-mixed integer hash (wrapping arithmetic is intended).
    with np.errstate(over="ignore"):
        x = (x + _GOLDEN) & _MASK64
        x = ((x ^ (x >> np.uint64(30))) * _MIX1) & _MASK64
        x = ((x ^ (x >> np.uint64(27))) * _MIX2) & _MASK64
        return x ^ (x >> np.uint64(31))


def lattice(seed: int, index: npt.NDArray[np.int64]) -> FloatArray:
    """Uniform values in [0, 1) at integer lattice points."""
    with np.errstate(over="ignore"):
        key = index.astype(np.uint64) * _GOLDEN ^ _splitmix(np.array([seed & 0xFFFFFFFFFFFFFFFF], np.uint64))
    return (_splitmix(key) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _fade(u: FloatArray) -> FloatArray:
    return u * u * (3.0 - 2.0 * u)


def value1d(seed: int, x: FloatArray, period: float) -> FloatArray:
    """Smooth noise in [0, 1) along ``x`` with features about ``period`` apart."""
    s = x / period
    i = np.floor(s).astype(np.int64)
    u = _fade(s - i)
    return lattice(seed, i) * (1.0 - u) + lattice(seed, i + 1) * u


def fbm1d(seed: int, x: FloatArray, period: float, octaves: int = 4, gain: float = 0.5) -> FloatArray:
    """Fractal sum of :func:`value1d`, normalised to [0, 1)."""
    total = np.zeros_like(x, dtype=np.float64)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        total += amplitude * value1d(seed + 7919 * octave, x, period / 2.0**octave)
        norm += amplitude
        amplitude *= gain
    return total / norm


def value2d(seed: int, xs: FloatArray, ys: FloatArray, period: float) -> FloatArray:
    """Smooth 2D noise on the grid ``xs`` (columns) x ``ys`` (rows)."""
    sx, sy = xs / period, ys / period
    ix, iy = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    ux, uy = _fade(sx - ix)[None, :], _fade(sy - iy)[:, None]

    def corner(dx: int, dy: int) -> FloatArray:
        key = (iy[:, None] + dy).astype(np.uint64) * _ROW_STRIDE + (ix[None, :] + dx).astype(np.uint64)
        return lattice(seed, key.astype(np.int64))

    top = corner(0, 0) * (1.0 - ux) + corner(1, 0) * ux
    bottom = corner(0, 1) * (1.0 - ux) + corner(1, 1) * ux
    return top * (1.0 - uy) + bottom * uy


def fbm2d(seed: int, xs: FloatArray, ys: FloatArray, period: float, octaves: int = 4) -> FloatArray:
    total = np.zeros((ys.size, xs.size))
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        total += amplitude * value2d(seed + 104729 * octave, xs, ys, period / 2.0**octave)
        norm += amplitude
        amplitude *= 0.5
    return total / norm
