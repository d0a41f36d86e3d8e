from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.config import Config, ImportConfig, PathsConfig
from modelshelf.shelf import Shelf

from . import tally
from .mounts import isolate_mounts

isolate_mounts()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A passing test marked `fault` or `bad_input(n)` adds what it tried to the run's tally."""
    report = (yield).get_result()
    if report.when == "call" and report.passed:
        for mark in item.iter_markers("fault"):      # each fault test checks its source survived
            tally.count(tally.FAULTS, mark.args[0] if mark.args else 1)
            tally.count(tally.CHECKED, mark.kwargs.get("files", 1))
        for mark in item.iter_markers("bad_input"):
            tally.count(tally.BAD_INPUTS, mark.args[0] if mark.args else 1)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = tally.summary()
    if lines:
        terminalreporter.section("what the resilience suites proved")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every thread a test starts must be stopped and joined by the end of it."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for t in leaked:
        t.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads left running: {still}"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real user's folders."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "MODELSHELF_CONFIG", "HF_ENDPOINT",
                "HF_TOKEN", "CIVITAI_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1] / "daemon"))  # subprocesses run this checkout
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")            # no test ever reaches the real Hub
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", "http://127.0.0.1:9")   # nor the real CivitAI
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    return home


def make_config(root: Path, library: Path | None = None, **imports) -> Config:
    return Config(paths=PathsConfig(library=library or root / "library", inboxes=(root / "inbox",),
                                    state_dir=root / "state"),
                  imports=ImportConfig(**imports))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def shelf(config: Config):
    with Shelf(config, writer=True) as s:
        yield s
