"""Kalman smoothing of a score curve over time (filterpy).

The score is modelled as a random walk observed with noise. To make the
result independent of frame rate and sampling stride, both noises are
expressed per second: the walk's variance grows by ``q * dt`` between samples
and each sample's noise variance is ``r / dt`` (a sample stands for ``dt``
seconds of signal). The filter's time constant is then ``sqrt(r / q)``
seconds whatever the spacing of the samples, uneven spacing (VFR, sampling)
included. Only the ratio matters, so ``q = 1`` and ``r = time_constant**2``.

The authors' tool used R = 0.1, Q = 1e-4 per frame at 30 fps, which is a
time constant of about 1.05 s; the default here is 1 s.

Files are smoothed with a forward filter followed by a Rauch-Tung-Striebel
pass, which removes the filter's lag; live sources use the forward filter
alone (:class:`CausalSmoother`). ``method="authors"`` instead reproduces the
authors' video tool exactly (:func:`authors_smooth`), lag and all.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from filterpy.kalman import KalmanFilter

from .record import ScoreCurve

DEFAULT_TIME_CONSTANT = 1.0
METHODS = ("kalman", "authors")
AUTHORS_R, AUTHORS_Q = 0.1, 1e-4
"""The authors' measurement and process noise, per scored frame, on min-max normalised scores."""
_MIN_STEP = 1e-4  # seconds; guards against duplicated timestamps


def _steps(times: np.ndarray) -> np.ndarray:
    """Seconds between two or more samples; the first sample borrows its neighbour's spacing."""
    steps = np.diff(times, prepend=times[0])
    steps[0] = steps[1]
    return np.maximum(steps, _MIN_STEP)


def _filter() -> KalmanFilter:
    """A 1-D random-walk filter: the state is the score itself."""
    kalman = KalmanFilter(dim_x=1, dim_z=1)
    kalman.F[:] = 1.0
    kalman.H[:] = 1.0
    return kalman


def kalman_smooth(
    times: np.ndarray, values: np.ndarray, time_constant: float = DEFAULT_TIME_CONSTANT, causal: bool = False
) -> np.ndarray:
    """Smoothed ``values`` sampled at ``times`` (seconds).

    Args:
        time_constant: seconds over which the score is trusted to change; 0 returns the values.
        causal: forward filter only (what a live source can do); otherwise RTS-smoothed, without lag.
    """
    values = np.asarray(values, dtype=np.float64)
    if time_constant < 0:
        raise ValueError("time constant must not be negative")
    if time_constant == 0 or len(values) < 2:
        return values.copy()
    steps = _steps(np.asarray(times, dtype=np.float64))
    noise = time_constant**2 / steps
    # The first sample starts the filter (mean z0, variance of one measurement);
    # every later sample is a predict + update, the same steps as CausalSmoother.
    kalman = _filter()
    kalman.x[:] = values[0]
    kalman.P[:] = noise[0]
    Qs, Rs = steps[:, None, None], noise[:, None, None]  # one 1x1 matrix per sample
    means, covariances, _, _ = kalman.batch_filter(values[1:, None, None], Qs=Qs[1:], Rs=Rs[1:])
    means = np.concatenate([np.full((1, 1, 1), values[0]), means])
    covariances = np.concatenate([np.full((1, 1, 1), noise[0]), covariances])
    if causal:
        return means[:, 0, 0]
    smoothed, _, _, _ = kalman.rts_smoother(means, covariances, Fs=np.ones_like(Qs), Qs=Qs)
    return smoothed[:, 0, 0]


def authors_smooth(raw: np.ndarray) -> np.ndarray:
    """The curve the authors' video tool shows (their ``gui.py``), in 0..1.

    Scores are min-max normalised to z; a forward-only random-walk Kalman
    filter runs over them frame by frame with R = 0.1 and Q = 1e-4, starting
    from x = z[0] and P = z[0] (the first normalised score doubles as the
    initial variance); then log(1 + x) is min-max normalised again. Frame
    times, shots and unusable frames play no part, and the filter lags.
    """
    z = min_max(np.asarray(raw, dtype=np.float64))
    estimate = np.empty_like(z)
    if len(z) == 0:
        return estimate
    x = variance = z[0]
    estimate[0] = x
    for k in range(1, len(z)):
        variance += AUTHORS_Q
        gain = variance / (variance + AUTHORS_R)
        x += gain * (z[k] - x)
        variance *= 1 - gain
        estimate[k] = x
    return min_max(np.log1p(estimate))


def min_max(values: np.ndarray) -> np.ndarray:
    """Min-max normalised to 0..1; a flat curve stays flat at 0 (the authors' tool would divide by zero)."""
    span = np.ptp(values) if len(values) else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def smooth(curve: ScoreCurve, time_constant: float = DEFAULT_TIME_CONSTANT, causal: bool = False,
           across_cuts: bool = False, method: str = "kalman") -> ScoreCurve:
    """A copy of ``curve`` with its ``smoothed`` scores set (see :func:`kalman_smooth`).

    A cut (or a run of blank frames) is a jump to other content, not noise,
    so each shot is smoothed on its own unless ``across_cuts`` is set. Frames
    that can never be picked (blank, blurred, fading: defects, not margins)
    do not pull the curve down: the filter runs over the others and the
    curve is interpolated across them.

    ``method="authors"`` gives the authors' curve instead (:func:`authors_smooth`:
    normalised to 0..1, over the whole curve; the other arguments are not used).
    """
    if method not in METHODS:
        raise ValueError(f"unknown smoothing method {method!r}; use one of {', '.join(METHODS)}")
    if method == "authors":
        return curve.with_smoothing(authors_smooth(curve.raw), {
            "method": "authors", "measurement_noise": AUTHORS_R, "process_noise_per_frame": AUTHORS_Q,
            "normalised": True, "split_at_cuts": False, "skips_defective_frames": False})
    shots, usable = curve.shots, ~curve.defective
    smoothed = np.empty(len(curve))
    changes = np.zeros(0, dtype=int) if across_cuts else np.flatnonzero(np.diff(shots) != 0) + 1
    bounds = [0, *changes, len(curve)]
    for begin, end in zip(bounds[:-1], bounds[1:]):
        times, raw, keep = curve.times[begin:end], curve.raw[begin:end], usable[begin:end]
        if keep.sum() < 2:
            keep = np.ones_like(keep)
        filtered = kalman_smooth(times[keep], raw[keep], time_constant, causal)
        smoothed[begin:end] = np.interp(times, times[keep], filtered)
    method = "kalman-forward" if causal else "kalman-rts"
    return curve.with_smoothing(smoothed, {"method": method, "time_constant": time_constant,
                                           "split_at_cuts": not across_cuts, "skips_defective_frames": True})


class CausalSmoother:
    """The forward filter one sample at a time, for live sources."""

    def __init__(self, time_constant: float = DEFAULT_TIME_CONSTANT) -> None:
        self.time_constant = time_constant
        self._kalman = _filter()
        self._last_time: Optional[float] = None
        self._started = False

    def update(self, time: float, value: float) -> float:
        """Feed one sample; returns the smoothed score so far."""
        if self.time_constant == 0:
            return float(value)
        if self._last_time is None:
            self._kalman.x[:] = value
        else:
            step = max(time - self._last_time, _MIN_STEP)
            if not self._started:
                # As in kalman_smooth, the first sample weighs as one measurement at the second's spacing.
                self._kalman.P[:] = self.time_constant**2 / step
                self._started = True
            self._kalman.predict(Q=step)
            self._kalman.update(value, R=self.time_constant**2 / step)
        self._last_time = time
        return float(self._kalman.x[0, 0])
