from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.config import ImportMode, load_config
from modelshelf.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_live_under_xdg_folders(isolated_home: Path) -> None:
    cfg = load_config()
    assert cfg.source is None
    assert cfg.paths.library == isolated_home / ".local/share/modelshelf/library"
    assert cfg.paths.inboxes == (isolated_home / ".local/share/modelshelf/inbox",)
    assert cfg.index_path == isolated_home / ".local/state/modelshelf/models.db"
    assert cfg.imports.mode is ImportMode.COPY and cfg.imports.checkpoint_every == 5


def test_xdg_variables_are_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", "relative/is/ignored")
    cfg = load_config()
    assert cfg.paths.library == tmp_path / "data/modelshelf/library"
    assert cfg.paths.state_dir == Path.home() / ".local/state/modelshelf"


def test_the_example_config_loads_and_matches_the_defaults(isolated_home: Path) -> None:
    example = Path(__file__).parents[2] / "config.example.toml"
    assert load_config(example).paths == load_config().paths
    assert load_config(example).imports == load_config().imports


def test_values_are_converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELS", "/srv/models")
    cfg = load_config(write(tmp_path, '[paths]\nlibrary = "$MODELS/lib"\ninboxes = ["~/in", "rel"]\n'
                                      '[import]\nmode = "move"\nbuffers = 8\ndirect_io = false\n'))
    assert cfg.paths.library == Path("/srv/models/lib")
    assert cfg.paths.inboxes == (Path.home() / "in", tmp_path / "rel")
    assert (cfg.imports.mode, cfg.imports.buffers, cfg.imports.direct_io) == (ImportMode.MOVE, 8, False)


@pytest.mark.bad_input
@pytest.mark.parametrize("text,message", [
    ("[import]\nbufer_mib = 4\n", "import.bufer_mib: unknown key; did you mean import.buffer_mib?"),
    ("[imports]\n", "imports: unknown key; did you mean import?"),
    ("[import]\nbuffers = 1\n", "[import] buffers: 1 is out of range; use a value from 2 to 64"),
    ("[import]\nbuffers = \"4\"\n", "[import] buffers: must be a whole number, got '4'; write a number without quotes"),
    ("[import]\nreflink = 1\n", "[import] reflink: must be true or false, got 1; use true or false"),
    ("[import]\nmode = \"teleport\"\n", "[import] mode: 'teleport' is not allowed; use one of copy, move"),
    ("[paths]\ninboxes = \"/in\"\n", "[paths] inboxes: must be a list, got '/in'"),
    ("[paths]\nlibrary = \"\"\n", "[paths] library: must be a path, got ''"),
    ("paths = 3\n", "paths: must be a table; write it as [paths]"),
    ("[paths\n", "file: is not valid TOML"),
])
def test_bad_values_give_one_line_naming_file_key_and_fix(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert "\n" not in str(info.value)


@pytest.mark.bad_input
def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; create it from config.example.toml"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.bad_input
def test_an_inbox_inside_the_library_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[paths]\nlibrary = "/srv/lib"\ninboxes = ["/srv/lib/inbox"]\n')
    with pytest.raises(ConfigError, match=r"\[paths\] inboxes: /srv/lib/inbox overlaps the library /srv/lib"):
        load_config(path)
