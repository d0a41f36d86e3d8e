from __future__ import annotations

import threading
from datetime import datetime, timedelta

import tzlocal

from modelshelf.service.scheduler import build_scheduler

from ..helpers import wait_for


def test_daily_checkpoint_at_three_local_time() -> None:
    scheduler = build_scheduler(lambda: None)
    scheduler.start(paused=True)  # job defaults are applied when the scheduler starts
    try:
        job = scheduler.get_job("wal-checkpoint")
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (fields["hour"], fields["minute"]) == ("3", "0")
        assert str(job.trigger.timezone) == str(tzlocal.get_localzone())
        assert (job.misfire_grace_time, job.coalesce) == (None, True)
        assert job.next_run_time.hour == 3
    finally:
        scheduler.shutdown(wait=True)


def test_a_run_missed_while_asleep_happens_once_on_wake() -> None:
    calls = []
    done = threading.Event()

    def checkpoint() -> None:
        calls.append(datetime.now())
        done.set()

    scheduler = build_scheduler(checkpoint)
    scheduler.start(paused=True)
    try:
        # As if the machine slept through 03:00 (and through the day before: coalesced into one).
        scheduler.modify_job("wal-checkpoint", next_run_time=datetime.now(tzlocal.get_localzone())
                             - timedelta(hours=30))
        scheduler.resume()
        wait_for(done.is_set, 10, "the missed checkpoint")
        wait_for(lambda: scheduler.get_job("wal-checkpoint").next_run_time
                 > datetime.now(tzlocal.get_localzone()), 10, "the next run to be scheduled")
        assert len(calls) == 1
    finally:
        scheduler.shutdown(wait=True)


def test_periodic_slot_for_later_jobs() -> None:
    scheduler = build_scheduler(lambda: None, periodic={"hub-lookups": (lambda: None, 600)})
    assert scheduler.get_job("hub-lookups").trigger.interval == timedelta(seconds=600)
