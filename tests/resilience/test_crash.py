"""The crash suite: the real daemon, SIGKILLed at seeded moments in every phase of an import,
restarted, and checked each time. Kill points are injected by strace on the syscalls of each
phase (no test hooks in the product); rounds without strace kill at a random moment."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from modelshelf.index import ModelIndex, rebuild_index
from modelshelf.library import open_library
from modelshelf.links.linker import is_link_to

from .. import tally
from ..helpers import sha256, wait_for
from ..links.conftest import MODERN, comfy
from ..models import write_big_safetensors, write_diffusers, write_gguf, write_safetensors
from ..mounts import can_mount, tmpfs
from ..service.daemon_proc import DaemonProcess
from .invariants import Dropped, find_problems, staging_leftovers

SEED = int(os.environ.get("MODELSHELF_CRASH_SEED", "20261123"))
KILLS = int(os.environ.get("MODELSHELF_CRASH_KILLS", "50"))
# phase -> (syscalls whose Nth call kills the daemon, largest N, strace path filter)
PHASES: dict[str, tuple[str, int, str | None]] = {
    "copy": ("pwrite64", 6, None),            # the writer thread's O_DIRECT writes
    "hash": ("preadv2", 8, None),             # the reader (copy and hash-in-place)
    "fsync": ("fsync", 6, None),              # file, folder and metadata.json fsyncs
    "metadata": ("rename", 3, None),          # journals and metadata.json replace in staging
    "place": ("renameat2", 3, None),          # a copied .tmp to its name, the model folder into place
    "move": ("link", 2, None),                # hardlink of a same-fs move into staging
    "index": ("pwrite64", 3, "models.db-wal"),
    "link": ("symlink", 3, None),             # canary and app links
    "retire": ("unlink,unlinkat", 3, None),   # deleting: the retired source, staging leftovers
    "random": ("", 0, None),                  # no strace: SIGKILL after a random delay
}


def drop(rng: random.Random, d: DaemonProcess, inboxes: list[Path], n: int, work: Path) -> list[Dropped]:
    items = []
    for i in range(rng.randint(1, 3)):
        inbox = rng.choice(inboxes)
        kind = rng.choices(["small", "gguf", "big", "folder"], weights=[5, 2, 2, 1])[0]
        name = f"r{n:02d}_{i}_{kind}"
        src = work / "src" / f"{name}.{'gguf' if kind == 'gguf' else 'safetensors'}"
        src.parent.mkdir(exist_ok=True)
        if kind == "small":
            write_safetensors(src, rng.choice(["lora_sdxl", "clip_l", "vae_flux", "easynegative"]), salt=n * 10 + i)
        elif kind == "gguf":
            write_gguf(src, "llama", salt=n * 10 + i)
        elif kind == "big":
            write_big_safetensors(src, rng.choice([24, 48]), seed=n * 10 + i)
        else:
            src = write_diffusers(work / "src" / name, salt=n * 10 + i)
        files = ({p.relative_to(src).as_posix(): sha256(p) for p in src.rglob("*") if p.is_file()}
                 if src.is_dir() else {src.name: sha256(src)})
        same_fs = os.stat(src.parent).st_dev == os.stat(inbox).st_dev
        if same_fs and rng.random() < 0.5:
            os.rename(src, inbox / src.name)                    # a same-filesystem mv
        elif src.is_dir():
            shutil.copytree(src, inbox / src.name)
        else:
            shutil.copyfile(src, inbox / src.name)              # written in place
        items.append(Dropped(src.name, inbox, files))
    return items


def run_round(d: DaemonProcess, phase: str, rng: random.Random) -> str:
    """Start the daemon with this round's kill point; return how it ended."""
    syscall, most, path_filter = PHASES[phase]
    strace: list[str] = []
    if syscall:
        strace = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}",
                  "-e", f"inject={syscall}:signal=SIGKILL:when={rng.randint(1, most)}"]
        if path_filter:
            strace += ["-P", str(d.root / "state" / path_filter)]
    with open(d.log, "ab") as log:
        proc = subprocess.Popen(d.command(strace), env=d.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        proc.wait(timeout=rng.uniform(0.4, 3.0) if not syscall else 8)
        ending = "killed" if proc.returncode in (-9, 137) else f"exited {proc.returncode}"
    except subprocess.TimeoutExpired:
        ending = "killed"                                       # the scenario: a kill at any moment
    with contextlib.suppress(ProcessLookupError):              # the group may be gone already
        os.killpg(proc.pid, signal.SIGKILL)                     # strace and the daemon it traces
    proc.wait()
    wait_for(lambda: not _group_alive(proc.pid), 10, "the round's processes to end")
    return ending


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigkill_anywhere_loses_nothing(tmp_path: Path) -> None:
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    rng = random.Random(SEED)
    apps = comfy(tmp_path / "comfy", MODERN)
    extra = f'[[apps]]\nroot = "{apps}"\n'
    with DaemonProcess(tmp_path, extra_config=extra) as d:
        d.config.write_text(d.config.read_text().replace("quiet_seconds = 0.5", "quiet_seconds = 0.3"))
        d.inbox.mkdir(parents=True)
        inboxes = [d.inbox]
        mounted = None
        if can_mount() is None:                                 # a second inbox on another filesystem
            mounted = tmpfs(tmp_path / "usb-inbox", "256m")
            inboxes.append(mounted.__enter__())
            d.config.write_text(d.config.read_text().replace(
                f'inboxes = ["{d.inbox}"]', f'inboxes = ["{d.inbox}", "{inboxes[1]}"]'))
        try:
            dropped: list[Dropped] = []
            endings: collections.Counter[str] = collections.Counter()
            phases: collections.Counter[str] = collections.Counter()
            for n in range(KILLS):
                dropped += drop(rng, d, inboxes, n, tmp_path)
                phase = rng.choice(list(PHASES))
                ending = run_round(d, phase, rng)
                endings[ending] += 1
                phases[phase] += ending == "killed"
                problems = find_problems(dropped, d.library, d.root / "state")
                assert problems == [], f"round {n} ({phase}): {problems}\n{d.logs()[-3000:]}"
            d.start()                                           # a clean run finishes everything
            assert staging_leftovers(d.library) == []           # recovery ran before READY
            wait_for(lambda: not [p for i in inboxes for p in i.iterdir() if p.name != "failed"], 60,
                     "every inbox to empty")
            wait_for(lambda: not d.call("jobs")["running"], 60, "the last import")
            assert d.stop() == 0
            assert find_problems(dropped, d.library, d.root / "state") == []
            verify = d.cli("verify")
            assert verify.returncode == 0, verify.stdout[-2000:]
            failed = [p.name for i in inboxes for p in (i / "failed").glob("*")] if any(
                (i / "failed").exists() for i in inboxes) else []
            live = ModelIndex(d.root / "state" / "models.db")
            fresh = ModelIndex(tmp_path / "fresh.db")
            rebuild_index(open_library(d.library, may_create=False), fresh)
            assert fresh.dump() == live.dump()
            models = live.count()
            live.close()
            fresh.close()
        finally:
            if mounted is not None:
                mounted.__exit__(None, None, None)
    assert endings["killed"] >= KILLS * 0.8 and failed == []
    tally.report(f"crash suite (seed {SEED}): {sum(endings.values())} rounds, {endings['killed']} kills "
                 f"({', '.join(f'{p} {c}' for p, c in sorted(phases.items()))}); {len(dropped)} drops, "
                 f"{models} models, {len(failed)} in failed/, 0 lost")
    tally.count(tally.KILLS, endings["killed"])
    tally.count(tally.CHECKED, len(dropped))


# -- adoption ---------------------------------------------------------------------------------
ADOPT_KILLS = int(os.environ.get("MODELSHELF_CRASH_ADOPT_KILLS", "36"))
# phase -> (syscalls whose Nth call kills `modelshelf adopt`, largest N, strace path filter)
ADOPT_PHASES: dict[str, tuple[str, int, str | None]] = {
    "adopt-import": ("linkat", 4, None),                # app files hardlinked into staging
    "adopt-hash": ("preadv2", 4, None),                 # hashing in place (plan and staging)
    "adopt-commit": ("renameat2", 3, None),             # the model folder placed in the library
    "adopt-link": ("symlink", 5, None),                 # canary links and each temp link
    "adopt-rename": ("rename", 6, None),                # metadata.json, origin.json, the rename over the app file
    "adopt-fsync": ("fsync", 10, None),                 # staging, temp links, folders
    "adopt-registry": ("pwrite64", 3, "registry.db-wal"),
    "adopt-journal": ("pwrite64", 6, "adopt.db-wal"),
}


def place_app_files(rng: random.Random, installs: list[Path], n: int, work: Path,
                    earlier: list[Path]) -> dict[Path, str]:
    """This round's models, as people have them: a new one, often copied into a second install,
    sometimes hardlinked into a third, sometimes a copy of one adopted before, rarely a folder."""
    placed: list[Path] = []
    a, b, c = rng.sample(installs, 3)
    new = work / f"a{n:02d}.safetensors"
    if rng.random() < 0.3:
        write_big_safetensors(new, 2, seed=1000 + n)
    else:
        write_safetensors(new, rng.choice(["lora_sdxl", "clip_l", "vae_flux", "easynegative"]), salt=1000 + n)
    first = a / "models" / "loras" / new.name
    shutil.copyfile(new, first)
    placed.append(first)
    if rng.random() < 0.6:
        placed.append(b / "models" / "loras" / new.name)
        shutil.copyfile(new, placed[-1])
    if rng.random() < 0.3:
        placed.append(c / "models" / "loras" / f"hl-{new.name}")
        os.link(first, placed[-1])
    if earlier and rng.random() < 0.4:
        again = rng.choice(earlier)
        placed.append(c / "models" / "loras" / f"again-{n:02d}-{again.name}")
        shutil.copyfile(again, placed[-1])
    if rng.random() < 0.15:
        placed.extend(p for p in write_diffusers(b / "models" / "diffusers" / f"pipe{n:02d}", salt=1000 + n).rglob("*")
                      if p.is_file())
    earlier.append(new)
    return {p: sha256(p) for p in placed}


def adoption_problems(expected: dict[Path, str], installs: list[Path], library: Path, state: Path) -> list[str]:
    """No app path missing or partial, no temp link or staging left, the journal empty, every
    registered link leading to its library file."""
    problems = [f"{p} is missing" for p in expected if not os.path.lexists(p)]
    problems += [f"{p} does not read as before" for p, digest in expected.items()
                 if os.path.lexists(p) and sha256(p) != digest]
    problems += [f"temp link left: {p}" for i in installs for p in i.rglob(".modelshelf-adopt-*")]
    problems += [f"staging left: {p}" for p in staging_leftovers(library)]
    if (state / "adopt.db").exists():
        with contextlib.closing(sqlite3.connect(state / "adopt.db")) as db:
            rows = db.execute("SELECT count(*) FROM adopting").fetchone()[0]
        problems += [f"{rows} adoptions still in the journal after a restart"] if rows else []
    if (state / "registry.db").exists():
        with contextlib.closing(sqlite3.connect(state / "registry.db")) as db:
            for install, target, source in db.execute("SELECT install, target, source FROM links"):
                if not is_link_to(Path(install) / target, library / source):
                    problems.append(f"registered {install}/{target} does not lead to {source}")
    return problems


def adopt_round(d: DaemonProcess, phase: str, rng: random.Random) -> str:
    syscall, most, path_filter = ADOPT_PHASES[phase]
    strace = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}",
              "-e", f"inject={syscall}:signal=SIGKILL:when={rng.randint(1, most)}"]
    if path_filter:
        strace += ["-P", str(d.root / "state" / path_filter)]
    proc = subprocess.run([*strace, *d.command([])[:-1], "adopt"], env=d.env, capture_output=True, text=True,
                          timeout=120)
    if proc.returncode not in (-9, 137, 0):
        return f"exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return "killed" if proc.returncode != 0 else "finished"


def test_sigkill_during_adoption_loses_nothing(tmp_path: Path) -> None:
    """`modelshelf adopt` SIGKILLed at the library import, the hashing, the commit, the link
    creation, the rename over the original, the journal and the registry commit; after each
    kill a restart (a writer opening the library) recovers, and no app path ever misses a byte."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    rng = random.Random(SEED + 1)
    versions = tmp_path / "comfyui-versions"
    installs = [comfy(versions / f"v{i}", MODERN) for i in range(3)]
    with DaemonProcess(tmp_path, extra_config=f'[[apps]]\nroot = "{versions}/*"\n') as d:
        expected: dict[Path, str] = {}
        earlier: list[Path] = []
        endings: collections.Counter[str] = collections.Counter()
        phases: collections.Counter[str] = collections.Counter()
        (tmp_path / "src").mkdir()
        for n in range(ADOPT_KILLS):
            expected |= place_app_files(rng, installs, n, tmp_path / "src", earlier)
            phase = rng.choice(list(ADOPT_PHASES))
            ending = adopt_round(d, phase, rng)
            endings[ending.split(":")[0]] += 1
            phases[phase] += ending == "killed"
            assert ending in ("killed", "finished"), f"round {n} ({phase}): {ending}"
            restart = d.cli("checkpoint")                       # a writer opens the library: recovery
            assert restart.returncode == 0, restart.stderr
            problems = adoption_problems(expected, installs, d.library, d.root / "state")
            assert problems == [], f"round {n} ({phase}): {problems}\n{restart.stderr[-2000:]}"
        d.start()                                               # the daemon finishes what is left
        result = json.loads(d.cli("adopt", "--json").stdout)
        assert result["by"] == "daemon" and result["counts"].get("skipped", 0) == 0, \
            [(f["path"], f["reason"], f["detail"]) for f in result["files"] if f["outcome"] == "skipped"]
        assert d.stop() == 0
        assert adoption_problems(expected, installs, d.library, d.root / "state") == []
        assert all(p.is_symlink() for p in expected), [p for p in expected if not p.is_symlink()]
        verify = d.cli("verify")
        assert verify.returncode == 0, verify.stdout[-2000:]
        live = ModelIndex(d.root / "state" / "models.db")
        fresh = ModelIndex(tmp_path / "fresh.db")
        rebuild_index(open_library(d.library, may_create=False), fresh)
        assert fresh.dump() == live.dump()
        contents = {digest for p, digest in expected.items() if "diffusers" not in p.parts}
        folders = {p.parent for p in expected if "diffusers" in p.parts and p.name == "model_index.json"}
        assert live.count() == len(contents) + len(folders)      # one library copy per content
        live.close()
        fresh.close()
    assert endings["killed"] >= ADOPT_KILLS * 0.8, endings
    tally.report(f"crash suite, adoption (seed {SEED + 1}): {sum(endings.values())} rounds, {endings['killed']} "
                 f"kills ({', '.join(f'{p} {c}' for p, c in sorted(phases.items()))}); {len(expected)} app "
                 f"files, 0 missing or partial")
    tally.count(tally.KILLS, endings["killed"])
    tally.count(tally.CHECKED, len(expected))
