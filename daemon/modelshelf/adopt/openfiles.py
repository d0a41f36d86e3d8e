"""Which files some process has open for writing (a download still arriving, a training run
saving): read once per adoption run from /proc/*/fd and /proc/*/fdinfo."""

from __future__ import annotations

import os
from collections.abc import Iterable

import psutil

Inode = tuple[int, int]      # st_dev, st_ino


def _write_mode(pid: int, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as f:
            for line in f:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
    except (OSError, ValueError, IndexError):
        pass
    return False


def open_for_writing(wanted: Iterable[Inode]) -> set[Inode]:
    """The inodes among `wanted` that any process we can see holds open for writing. Processes
    of other users are invisible without privileges; a reader (an app with the model loaded) is
    fine, since the inode it reads survives the rename over its name."""
    wanted = set(wanted)
    found: set[Inode] = set()
    if not wanted:
        return found
    for pid in psutil.pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            inode = (st.st_dev, st.st_ino)
            if inode in wanted and inode not in found and _write_mode(pid, fd):
                found.add(inode)
    return found
