from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path

from modelshelf.service.notify import Notifier

from ..helpers import wait_for
from ..models import write_big_safetensors
from .daemon_proc import DaemonProcess, NotifyListener


def test_ready_status_utf8_watchdog_reload_and_stopping(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path, env={"WATCHDOG_USEC": "400000"}) as d:
        d.start()                                             # READY=1
        name = "Ёлка_模型_モデル.safetensors"                   # Cyrillic, CJK, kana
        big = write_big_safetensors(tmp_path / name, 300)
        shutil.move(big, d.inbox / name)
        status = d.notify.wait_for_field("STATUS", f"importing {name}")
        assert "MB/s" in status["STATUS"] and "%" in status["STATUS"]
        d.notify.wait_for_field("WATCHDOG", "1")
        d.wait_jobs(1)
        d.notify.wait_for_field("STATUS", "idle · 1 model · inbox empty")
        d.notify.messages.clear()
        d.proc.send_signal(signal.SIGHUP)
        d.notify.wait_for_field("RELOADING", "1")
        d.notify.wait_for_field("READY", "1")
        assert d.stop() == 0
        assert any(f.get("STOPPING") == "1" for f in d.notify.fields())


def test_notifier_sends_utf8_to_abstract_and_path_sockets(tmp_path: Path) -> None:
    listener = NotifyListener(tmp_path)
    notifier = Notifier(str(listener.path))
    assert notifier.send(STATUS="importing 模型.gguf 41%")
    assert listener.fields()[-1] == {"STATUS": "importing 模型.gguf 41%"}
    notifier.close()
    listener.close()
    assert not Notifier("").enabled and not Notifier("").send(READY=1)


def test_log_lines_carry_journal_priorities(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path) as d:
        d.log.touch()
        st = os.stat(d.log)
        d.env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"   # stderr "is" the journal
        d.start()
        (d.inbox / "bad.gguf").write_bytes(b"NOPE" * 20)
        d.wait_jobs(1)
        d.stop()
        lines = d.logs().splitlines()
        assert any(line.startswith("<6>modelshelf daemon ready") for line in lines)
        assert any(line.startswith("<3>not importing") and "bad GGUF magic" in line for line in lines)
        assert all(line.startswith("<") for line in lines), lines


def test_without_journal_logs_are_plain(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path) as d:
        d.start()
        d.stop()
        assert " INFO modelshelf daemon ready" in d.logs() and "<6>" not in d.logs()


def test_watchdog_is_withheld_when_a_worker_dies(tmp_path: Path) -> None:
    from modelshelf.service.notify import WatchdogPinger
    listener = NotifyListener(tmp_path)
    notifier = Notifier(str(listener.path))
    state = {"healthy": True, "unhealthy_checks": 0}

    def healthy() -> bool:
        if not state["healthy"]:
            state["unhealthy_checks"] += 1
        return state["healthy"]

    pinger = WatchdogPinger(notifier, 0.02, healthy)
    pinger.start()
    try:
        wait_for(lambda: any(f.get("WATCHDOG") == "1" for f in listener.fields()), 5, "a ping")
        state["healthy"] = False
        wait_for(lambda: state["unhealthy_checks"] >= 1, 5, "a check while unhealthy")
        listener.drain()
        listener.messages.clear()
        wait_for(lambda: state["unhealthy_checks"] >= 6, 5, "five more checks")
        assert listener.fields() == []                        # no ping while a worker is dead
    finally:
        pinger.stop()
        notifier.close()
        listener.close()


def test_a_full_notify_queue_never_blocks(tmp_path: Path) -> None:
    listener = NotifyListener(tmp_path)                       # nobody reads it
    notifier = Notifier(str(listener.path))
    sent: list[bool] = []
    sender = threading.Thread(target=lambda: sent.extend(notifier.send(STATUS=f"line {i}") for i in range(5000)))
    sender.start()
    sender.join(10)
    assert not sender.is_alive(), "sd_notify blocked on a full queue"
    assert sent[0] and not all(sent)                          # some were dropped, none blocked
    notifier.close()
    listener.close()
