"""The one place that configures log handlers.

Under systemd, stderr is the journal: each line gets an sd-daemon `<N>` priority prefix (every
line of a multi-line record, tracebacks included) so `journalctl -p` filters work. Anywhere else
the output is plain text.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def stderr_is_journal(stream: TextIO = sys.stderr) -> bool:
    """True when systemd connected this stream to the journal (JOURNAL_STREAM is dev:inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class JournalFormatter(logging.Formatter):
    """`<N>message` on every line; journald adds its own timestamps and unit names."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def configure_logging(verbose: bool = False, daemon: bool = False) -> None:
    """CLI: plain one-line messages, warnings and up. Daemon: info and up, with priorities in
    the journal and timestamps elsewhere. Tracebacks only at DEBUG (--verbose)."""
    handler = logging.StreamHandler(sys.stderr)
    if daemon and stderr_is_journal():
        handler.setFormatter(JournalFormatter("%(message)s"))
    elif daemon:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s" if verbose else "%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO if daemon else logging.WARNING)
    for noisy in ("apscheduler", "watchdog", "httpx", "httpcore", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not verbose else logging.INFO)
