"""Model folders as download tools and version control leave them: the real `hf download
--local-dir` against the fake Hub, and a real `git clone`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from ..helpers import files_under
from ..hub.fake_hub import FakeHub, FakeRepo
from ..models import write_diffusers

# The .gitattributes the Hub gives every new model repo (abridged): weights are LFS files.
GITATTRIBUTES = ("*.bin filter=lfs diff=lfs merge=lfs -text\n"
                 "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                 "*.ckpt filter=lfs diff=lfs merge=lfs -text\n")


def repo_contents(tmp: Path, name: str = "pipe-src") -> dict[str, bytes]:
    """A diffusers pipeline as a Hub repo holds it: the model, its README and .gitattributes."""
    folder = write_diffusers(tmp / name)
    contents = {rel: (folder / rel).read_bytes() for rel in files_under(folder)}
    return {**contents, ".gitattributes": GITATTRIBUTES.encode(), "README.md": b"# SDXL pipeline\n"}


def hf_download(hub: FakeHub, repo_id: str, local_dir: Path, hf_home: Path) -> Path:
    """The real huggingface_hub CLI: `hf download <repo> --local-dir <dir>`."""
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    done = subprocess.run([sys.executable, "-m", "huggingface_hub.cli.hf", "download", repo_id,
                           "--local-dir", str(local_dir)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return local_dir


def serve(hub: FakeHub, repo_id: str, contents: dict[str, bytes]) -> FakeRepo:
    return hub.add(FakeRepo.serving(repo_id, contents))


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True, capture_output=True)


def git_clone(contents: dict[str, bytes], origin: Path, dest: Path) -> Path:
    """A model repo committed with git, then cloned with `git clone` (a real .git/). git-lfs is not
    installed here: the clone's LFS store is laid out as git-lfs keeps it after a clone,
    .git/lfs/objects/OID[0:2]/OID[2:4]/OID holding each weight file a second time (git-lfs
    docs/spec.md, "Intercepting Git")."""
    origin.mkdir(parents=True)
    for rel, data in contents.items():
        (origin / rel).parent.mkdir(parents=True, exist_ok=True)
        (origin / rel).write_bytes(data)
    git("init", "-q", cwd=origin)
    git("add", "-A", cwd=origin)
    git("commit", "-q", "-m", "Upload model", cwd=origin)
    git("clone", "-q", "--no-local", str(origin), str(dest))
    for rel, data in contents.items():
        if rel.endswith(".safetensors"):
            oid = hashlib.sha256(data).hexdigest()
            store = dest / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4]
            store.mkdir(parents=True, exist_ok=True)
            (store / oid).write_bytes(data)
    (dest / ".git" / "lfs" / "tmp").mkdir()
    return dest
