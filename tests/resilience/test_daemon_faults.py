"""Faults against the real daemon: a full inode table, a read-only library, a source deleted, grown,
truncated or replaced mid-copy, EIO writing the copy. Each must give one clear line naming the file
and the reason (log, status socket, CLI); keep the source byte for byte (in the inbox when the
library's drive is at fault or the file changed, to be retried; else in failed/ with a note);
leave nothing partial in the library or the index; and leave the daemon serving: the next good
file imports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ..helpers import EMPTY_LIBRARY, digests, files_under, wait_for
from ..models import write_big_safetensors, write_safetensors
from ..mounts import bind_mount, tmpfs
from ..service.daemon_proc import DaemonProcess, library_models
from .invariants import staging_leftovers

MIB = 1 << 20
NO_RESERVE = "[import]\nreserve_mib = 0\n"           # small tmpfs libraries: no free-space reserve
ONE_MIB_CHUNKS = NO_RESERVE + "buffer_mib = 1\n"      # one read and one pwrite64 per MiB: countable


def need_strace() -> None:
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def drop(d: DaemonProcess, name: str, make: Callable[..., Path], *args: object) -> tuple[Path, tuple[str, str]]:
    """Write a model under an ignored name in the inbox, then rename it in (as rsync does)."""
    hidden = make(d.inbox / f".{name}.part", *args)
    before = digests(hidden)
    os.rename(hidden, d.inbox / name)
    return d.inbox / name, before


def job_for(d: DaemonProcess, name: str) -> dict:
    return next(j for j in d.finished_jobs() if Path(j["source"]).name == name)     # newest first


def assert_reported(d: DaemonProcess, name: str, reason: str) -> str:
    """One line naming the file and the reason: in the job list, the status, the CLI and the log."""
    job = job_for(d, name)
    error = job["error"] or ""
    assert job["state"] == "failed" and name in error and reason in error and "\n" not in error, job
    status = d.call("status")
    assert status["last_error"] == error
    jobs_cli = d.cli("jobs")
    assert jobs_cli.returncode == 0 and f"failed     {job['source']}: {error}" in jobs_cli.stdout.splitlines()
    assert f"last error {error}" in d.cli("status").stdout.splitlines()
    log = d.logs()
    assert "Traceback" not in log
    assert any(line.endswith(f" ERROR {error}") for line in log.splitlines()), log[-3000:]
    return error


def assert_nothing_partial(d: DaemonProcess) -> None:
    assert staging_leftovers(d.library) == []                  # no staged job, no .tmp
    assert files_under(d.library) == EMPTY_LIBRARY              # no model folder, whole or half
    assert library_models(d) == []                              # and none in the index


def assert_failed_kept(d: DaemonProcess, name: str, before: tuple[str, str], reason: str) -> None:
    """The source sits in failed/, byte for byte, with a note saying why."""
    kept = d.inbox / "failed" / name
    assert digests(kept) == before
    assert reason in Path(f"{kept}.error.txt").read_text()
    assert not (d.inbox / name).exists()


def assert_serving(d: DaemonProcess, name: str = "next.safetensors") -> None:
    """A good file dropped after the fault imports, and the status socket answers."""
    done = len(d.finished_jobs())
    drop(d, name, write_safetensors, "clip_l")
    d.wait_jobs(done + 1, 90)
    assert job_for(d, name)["state"] == "imported", d.logs()[-3000:]
    assert d.call("status")["state"] in ("idle", "importing") and d.proc.poll() is None


def waits_then_imports(d: DaemonProcess, src: Path, before: tuple[str, str], reason: str,
                       repair: Callable[[], None]) -> None:
    """The library's drive cannot take the file: a clear error, the file stays in the inbox (not the
    file's fault, so not failed/), and once the drive is repaired a rescan imports it unasked."""
    d.wait_jobs(1, 60)
    error = assert_reported(d, src.name, reason)
    assert "stays in the inbox and is retried at the next rescan" in error
    assert digests(src) == before and not (d.inbox / "failed").exists()
    assert_nothing_partial(d)
    repair()
    wait_for(lambda: job_for(d, src.name)["state"] == "imported", 60, "the retry at a rescan")
    assert digests(d.library / job_for(d, src.name)["path"] / src.name) == before
    assert not src.exists()
    assert_serving(d)


# -- 1. ENOSPC: no free inode on the library's filesystem ------------------------------------------
@pytest.mark.fault
def test_full_inode_table_keeps_the_file_in_the_inbox_until_a_retry_imports_it(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "library", "64m") as lib, DaemonProcess(tmp_path, extra_config=NO_RESERVE) as d:
        d.start()
        st = os.statvfs(lib)
        used = st.f_files - st.f_ffree                          # the root, the marker and the lock
        # Four more inodes hold the staging folder, the job's folder, its payload folder and
        # origin.json: the import gets as far as the copy, whose own file cannot be created.
        mount("-o", f"remount,nr_inodes={used + 4}", str(lib))
        src, before = drop(d, "inodes.safetensors", write_big_safetensors, 4)
        waits_then_imports(d, src, before, "No space left on device",
                           lambda: mount("-o", "remount,nr_inodes=1024", str(lib)))
        errors = [j["error"] for j in d.finished_jobs() if j["error"]]
        assert any("inodes.safetensors.tmp)" in e for e in errors), errors   # it failed at the copy's own file


# -- 2. The library becomes read-only --------------------------------------------------------------
@pytest.mark.fault
def test_read_only_library_keeps_the_file_in_the_inbox_until_a_retry_imports_it(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "library", "64m") as lib, DaemonProcess(tmp_path, extra_config=NO_RESERVE) as d:
        d.start()
        # `mount -o remount,ro` of the library itself is refused (busy) while the daemon runs: it
        # holds its lock file there open for writing. What a running daemon meets is a drive
        # mounted again at the same place read-only (ntfs-3g does so with a dirty NTFS volume):
        # a read-only mount stacked on the library path.
        with bind_mount(lib, lib):
            mount("-o", "remount,bind,ro", str(lib))
            src, before = drop(d, "readonly.safetensors", write_safetensors, "lora_sdxl")
            waits_then_imports(d, src, before, "Read-only file system",
                               lambda: mount("-o", "remount,bind,rw", str(lib)))
        assert d.stop() == 0
        # Stopped, the library can be remounted read-only; a daemon started on it refuses in one line.
        mount("-o", "remount,ro", str(lib))
        d.start(wait=False)
        assert d.proc is not None and d.proc.wait(timeout=60) == 2 and d.stop() == 2
        last = d.logs().strip().splitlines()[-1]
        assert last == f"modelshelf: Read-only file system ({lib / '.modelshelf-lock'})", last
        assert "Traceback" not in d.logs()
        mount("-o", "remount,rw", str(lib))
        d.start()
        assert d.call("status")["models"] == 2


# -- 3. The source changes while it is copied ------------------------------------------------------
def change_source(change: str, src: Path, work: Path) -> Path | None:
    """Make the change; return a file with what the source now holds (None: it is gone)."""
    now = work / "now.safetensors"
    if change == "deleted":
        src.unlink()
        return None
    if change == "grown":
        with open(src, "ab") as f:
            f.write(b"\0" * 4096)
        shutil.copyfile(src, now)
    elif change == "truncated":
        os.truncate(src, 8 * MIB)
        shutil.copyfile(src, now)
    else:                                   # replaced: a new download renamed over the name
        write_safetensors(now, "t5xxl_fp16")
        shutil.copyfile(now, src.with_name(".new.part"))
        os.rename(src.with_name(".new.part"), src)
    return now


MID_COPY = {  # change -> the reason the error must give, and where the file ends once it settled
    "deleted": ("was deleted while it was copied", None),
    "grown": ("file changed size while reading", "failed"),           # trailing bytes: not a model
    "truncated": ("file changed size while reading", "failed"),       # cut short: an incomplete download
    "replaced": ("was replaced by another file while it was copied", "library"),   # a good new model
}


@pytest.mark.fault
@pytest.mark.parametrize("change", list(MID_COPY))
def test_source_changed_mid_copy(tmp_path: Path, change: str) -> None:
    need_strace()
    with tmpfs(tmp_path / "inbox", "128m") as inbox:          # another filesystem: the move is a copy
        src = inbox / "victim.safetensors"
        # Each read of the source (1 MiB) waits 50 ms: the 48 MiB copy takes over two seconds, a
        # wide window to change the file in while the job shows as copying.
        slow = ["strace", "-f", "-qq", "--seccomp-bpf", "-o", str(tmp_path / "strace.log"), "-P", str(src),
                "-e", "trace=preadv2", "-e", "inject=preadv2:delay_enter=50000"]
        with DaemonProcess(tmp_path, extra_config=ONE_MIB_CHUNKS, prefix=slow) as d:
            d.start()
            drop(d, src.name, write_big_safetensors, 48)
            wait_for(lambda: any(j["phase"] == "copying" and 0 < j["done_bytes"] < 16 * MIB
                                 for j in d.call("jobs")["running"]), 60, "the copy to be under way")
            now = change_source(change, src, tmp_path)
            reason, ends_in = MID_COPY[change]
            d.wait_jobs(1, 90)
            error = assert_reported(d, src.name, reason)
            assert_nothing_partial(d)
            if now is None:
                assert not src.exists() and not (inbox / "failed").exists()
            else:                   # not the file's fault: it stays, settles, and is offered again
                assert "stays in the inbox and is imported again once it has settled" in error
                wait_for(lambda: not src.exists(), 90, "the changed file to be handled again")
                kept = inbox / "failed" / src.name if ends_in == "failed" else (
                    d.library / job_for(d, src.name)["path"] / src.name)
                assert digests(kept) == digests(now)
            assert_serving(d)


# -- 4. EIO writing the copy -----------------------------------------------------------------------
# SQLite's writes are pwrite64 calls too, so the fault is placed by thread: strace's when= counts
# per thread, and every copy writes from a new writer thread, one pwrite64 per 1 MiB chunk. The
# long-lived threads stay well below 200 calls here (measured: 125 on the main thread over start-up
# and stop, under 60 on each worker), so only the writer of this 224 MiB copy reaches its 200th.
# -y names each call's file, and the test checks it: exactly one call failed, a write of the copy.
WRITE_EIO_AT = 200


@pytest.mark.fault
def test_eio_writing_the_copy(tmp_path: Path) -> None:
    need_strace()
    log = tmp_path / "strace.log"
    eio = ["strace", "-f", "-qq", "--seccomp-bpf", "-y", "-o", str(log), "-e", "trace=pwrite64",
           "-e", f"inject=pwrite64:error=EIO:when={WRITE_EIO_AT}"]
    with tmpfs(tmp_path / "inbox", "512m"), \
            DaemonProcess(tmp_path, extra_config=ONE_MIB_CHUNKS, prefix=eio) as d:
        d.start()
        src, before = drop(d, "eio.safetensors", write_big_safetensors, 224)
        d.wait_jobs(1, 120)
        error = assert_reported(d, src.name, "Input/output error")
        assert f"({d.library}/.modelshelf-tmp/" in error        # it names the drive that failed
        assert_failed_kept(d, src.name, before, "Input/output error")
        assert_nothing_partial(d)
        assert_serving(d)
        assert d.stop() == 0
    injected = [line for line in log.read_text(errors="replace").splitlines() if "INJECTED" in line]
    assert len(injected) == 1 and re.search(r"pwrite64\(\d+</.*/eio\.safetensors\.tmp>", injected[0]), injected
