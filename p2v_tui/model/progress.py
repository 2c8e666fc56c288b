"""Overall copy progress across all copy jobs: bytes, smoothed rate, ETA.

rsync reports bytes per run and a percentage whose total grows while it
scans; the plan knows each job's size only as an estimate (used blocks).
The tracker combines both so the bar never runs backwards and never claims
100 % before the last job ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ProgressTracker:
    estimates: list[int]
    """Estimated bytes of each job, in order."""
    smoothing: float = 5.0
    """Seconds over which the rate is averaged (exponential)."""
    _done_jobs: int = 0
    _done_bytes: int = 0
    _job_bytes: int = 0
    _job_total: int = 0
    _rate: float = 0.0
    _last: tuple[float, int] | None = None
    _totals: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._totals = list(self.estimates)

    def start_job(self, index: int) -> None:
        self._done_jobs = index
        self._job_bytes = 0

    def update(self, job_bytes: int, percent: int | None, now: float) -> None:
        """rsync's count for the running job (and its percentage, if known)."""
        i = self._done_jobs
        if percent and percent > 0:
            # rsync's own idea of the job's size, a lower bound while it scans.
            self._totals[i] = max(self._totals[i], job_bytes * 100 // percent)
        self._totals[i] = max(self._totals[i], job_bytes)
        self._job_bytes = job_bytes
        done = self.done
        if self._last is not None:
            t0, b0 = self._last
            dt = now - t0
            if dt > 0:
                instant = max(0, done - b0) / dt
                alpha = min(1.0, dt / self.smoothing)
                self._rate = instant if self._rate == 0 else self._rate + alpha * (instant - self._rate)
        self._last = (now, done)

    def finish_job(self, job_bytes: int) -> None:
        i = self._done_jobs
        self._totals[i] = job_bytes
        self._done_bytes += job_bytes
        self._job_bytes = 0
        self._done_jobs = i + 1

    @property
    def done(self) -> int:
        return self._done_bytes + self._job_bytes

    @property
    def total(self) -> int:
        return max(sum(self._totals), self.done)

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def eta(self) -> float | None:
        if self._rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self._rate)
