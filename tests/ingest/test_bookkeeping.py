"""What a download tool or version control keeps for itself never enters the library, and the
folder still leaves the inbox whole once imported."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from modelshelf.config import ImportMode
from modelshelf.errors import ImportFailedError
from modelshelf.ingest import (
    ImportJob,
    ImportOutcome,
    downloads_in_progress,
    find_importables,
    is_download_in_progress,
    is_tool_bookkeeping,
)
from modelshelf.ingest.retire import Retired, file_key, retire_source
from modelshelf.library import read_metadata
from modelshelf.shelf import Shelf

from ..helpers import files_under
from ..hub.fake_hub import FakeHub
from .tool_folders import git_clone, hf_download, repo_contents, serve


@pytest.fixture
def hub():
    h = FakeHub()
    yield h
    h.stop()


def run(shelf: Shelf, source: Path, mode: ImportMode):
    return shelf.importer().run(ImportJob(source, mode))


CONTENT = [".gitattributes", "README.md", "model_index.json", "text_encoder/config.json",
           "text_encoder/diffusion_pytorch_model.safetensors", "tokenizer/vocab.json", "unet/config.json",
           "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors"]


@pytest.mark.parametrize(("rel", "bookkeeping"), [
    (".cache/huggingface/download/unet/model.safetensors.lock", True),
    (".cache/huggingface/download/model_index.json.metadata", True),
    (".cache/huggingface/CACHEDIR.TAG", True),
    (".cache/huggingface/.gitignore", True),
    (".cache/huggingface/trees/0123456789abcdef0123456789abcdef01234567.json", True),
    (".huggingface/download/model.safetensors.metadata", True),     # huggingface_hub 0.23.0
    (".git/lfs/objects/4d/7a/4d7a2146", True),
    (".git", True),                                                  # a submodule's gitlink file
    ("clone/.git/HEAD", True),
    (".hg/store/data", True),
    (".svn/wc.db", True),
    (".gitattributes", False),                                       # the repository's own file
    (".gitignore", False),
    (".cache/other/file", False),
    ("unet/diffusion_pytorch_model.safetensors", False),
    ("cache/huggingface/x", False),
])
def test_which_paths_are_tool_bookkeeping(rel: str, bookkeeping: bool) -> None:
    assert is_tool_bookkeeping(PurePosixPath(rel)) is bookkeeping


def test_only_huggingface_hubs_incomplete_file_is_a_download_in_progress() -> None:
    assert is_download_in_progress(PurePosixPath(".cache/huggingface/download/aGFzaA==.0123abcd.9f8e7d6c.incomplete"))
    assert is_download_in_progress(PurePosixPath(".cache/huggingface/download/unet/x.abc.incomplete"))
    assert not is_download_in_progress(PurePosixPath(".cache/huggingface/download/unet/x.safetensors.lock"))
    assert not is_download_in_progress(PurePosixPath("unet/x.incomplete"))     # not the tool's own


def test_an_hf_download_folder_imports_without_its_bookkeeping_and_leaves_the_inbox(
        shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    serve(hub, "org/sdxl-pipe", repo_contents(tmp_path))
    src = hf_download(hub, "org/sdxl-pipe", tmp_path / "inbox" / "sdxl-pipe", tmp_path / "hf")
    assert (src / ".cache/huggingface/download/unet/diffusion_pytorch_model.safetensors.lock").exists()
    assert (src / ".cache/huggingface/CACHEDIR.TAG").exists()
    result = run(shelf, src, ImportMode.MOVE)
    assert result.outcome is ImportOutcome.IMPORTED and result.source_removed
    folder = shelf.library.root / result.path
    assert files_under(folder) == sorted([*CONTENT, "metadata.json"])
    assert [f.name for f in read_metadata(folder / "metadata.json").files] == CONTENT
    assert not src.exists() and os.listdir(tmp_path / "inbox") == []


def test_the_tree_digest_leaves_bookkeeping_out(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    """The same model fetched by hf and by git is one model: the second import is a duplicate."""
    contents = repo_contents(tmp_path)
    serve(hub, "org/sdxl-pipe", contents)
    plain = tmp_path / "plain" / "sdxl-pipe"
    for rel, data in contents.items():
        (plain / rel).parent.mkdir(parents=True, exist_ok=True)
        (plain / rel).write_bytes(data)
    first = run(shelf, plain, ImportMode.COPY)
    downloaded = hf_download(hub, "org/sdxl-pipe", tmp_path / "inbox" / "sdxl-pipe", tmp_path / "hf")
    cloned = git_clone(contents, tmp_path / "origin", tmp_path / "inbox" / "sdxl-clone")
    for src in (downloaded, cloned):
        again = run(shelf, src, ImportMode.MOVE)
        assert (again.outcome, again.model_id) == (ImportOutcome.DUPLICATE, first.model_id)
        assert again.source_removed and not src.exists()
    assert shelf.index.count() == 1


def test_a_git_clone_imports_without_dot_git_and_leaves_the_inbox(shelf: Shelf, tmp_path: Path) -> None:
    src = git_clone(repo_contents(tmp_path), tmp_path / "origin", tmp_path / "inbox" / "sdxl-clone")
    assert any((src / ".git" / "lfs" / "objects").rglob("*")) and (src / ".git" / "HEAD").is_file()
    result = run(shelf, src, ImportMode.MOVE)
    assert result.outcome is ImportOutcome.IMPORTED and result.source_removed
    folder = shelf.library.root / result.path
    assert files_under(folder) == sorted([*CONTENT, "metadata.json"])
    meta = read_metadata(folder / "metadata.json")
    assert [f.name for f in meta.files] == CONTENT
    assert meta.size_bytes == sum((tmp_path / "origin" / rel).stat().st_size for rel in CONTENT)
    assert os.listdir(tmp_path / "inbox") == []


def test_a_copy_import_leaves_the_downloaded_folder_as_it_was(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    serve(hub, "org/sdxl-pipe", repo_contents(tmp_path))
    src = hf_download(hub, "org/sdxl-pipe", tmp_path / "dl" / "sdxl-pipe", tmp_path / "hf")
    before = files_under(src)
    result = run(shelf, src, ImportMode.COPY)
    assert files_under(src) == before        # nothing of the user's is touched by a copy
    assert ".cache" not in {p.split("/")[0] for p in files_under(shelf.library.root / result.path)}


@pytest.mark.bad_input
def test_a_folder_still_downloading_is_refused_and_left_alone(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    serve(hub, "org/sdxl-pipe", repo_contents(tmp_path))
    src = hf_download(hub, "org/sdxl-pipe", tmp_path / "inbox" / "sdxl-pipe", tmp_path / "hf")
    weights = src / "vae" / "diffusion_pytorch_model.safetensors"
    # What huggingface_hub's _download_to_tmp_and_move has while vae/ downloads: the weights
    # growing under .cache/huggingface/download/vae/<hash>.<etag>.<id>.incomplete, not yet in place.
    partial = src / ".cache/huggingface/download/vae/Y2FjaGU=.0123abcd.1a2b3c4d.incomplete"
    partial.write_bytes(weights.read_bytes()[:1000])
    weights.unlink()
    assert downloads_in_progress(src) == [PurePosixPath(partial.relative_to(src))]
    before = files_under(src)
    with pytest.raises(ImportFailedError, match="a download into it is still in progress"):
        run(shelf, src, ImportMode.MOVE)
    assert files_under(src) == before and shelf.index.count() == 0


def test_a_download_started_during_the_import_puts_the_folder_back(hub: FakeHub, tmp_path: Path) -> None:
    """The retire step deletes bookkeeping with the folder, but never a download still running in it."""
    serve(hub, "org/sdxl-pipe", repo_contents(tmp_path))
    src = hf_download(hub, "org/sdxl-pipe", tmp_path / "inbox" / "sdxl-pipe", tmp_path / "hf")
    read = {rel: file_key(os.lstat(src / rel)) for rel in CONTENT}
    assert retire_source(src, "0123456789ab", dict(read), is_folder=True) is Retired.REMOVED   # bookkeeping went too
    src = hf_download(hub, "org/sdxl-pipe", src, tmp_path / "hf")
    read = {rel: file_key(os.lstat(src / rel)) for rel in CONTENT}
    running = src / ".cache/huggingface/download/unet/Y2FjaGU=.0123abcd.1a2b3c4d.incomplete"
    running.write_bytes(b"partial")                                  # hf download --force-download again
    assert retire_source(src, "0123456789ab", read, is_folder=True) is Retired.CHANGED
    assert running.read_bytes() == b"partial" and files_under(src)


def test_find_importables_never_looks_inside_bookkeeping(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    (drop / ".git" / "lfs" / "objects").mkdir(parents=True)
    (drop / ".git" / "lfs" / "objects" / "x.safetensors").write_bytes(b"x")
    (drop / "lora.safetensors").write_bytes(b"x")
    assert find_importables(drop) == [drop / "lora.safetensors"]
