"""Periodic jobs on an APScheduler 3 BackgroundScheduler.

APScheduler's default misfire grace is 1 s: a 03:00 job missed while the machine slept would be
skipped. No grace limit plus coalescing runs it once on wake-up. A short interval job keeps the
scheduler waking up after a suspend, so due jobs are noticed promptly.
"""

from __future__ import annotations

from collections.abc import Callable

import tzlocal
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger


def build_scheduler(checkpoint: Callable[[], object],
                    periodic: dict[str, tuple[Callable[[], object], float]] | None = None) -> BackgroundScheduler:
    """The daily 03:00 checkpoint, plus `periodic` {id: (function, every N seconds)}: the slot
    where later parts (pending Hub lookups) add their jobs."""
    zone = tzlocal.get_localzone()
    scheduler = BackgroundScheduler(timezone=zone, job_defaults={
        "coalesce": True, "misfire_grace_time": None, "max_instances": 1})
    scheduler.add_job(checkpoint, CronTrigger(hour=3, minute=0, timezone=zone), id="wal-checkpoint",
                      name="daily WAL checkpoint")
    scheduler.add_job(_keep_awake, "interval", minutes=1, id="keep-awake", name="wake after suspend")
    for job_id, (func, seconds) in (periodic or {}).items():
        scheduler.add_job(func, "interval", seconds=seconds, id=job_id, name=job_id)
    return scheduler


def _keep_awake() -> None:
    """Nothing to do: its schedule alone wakes the scheduler's thread."""
