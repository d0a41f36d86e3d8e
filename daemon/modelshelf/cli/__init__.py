"""The `modelshelf` command. Only main() decides exit codes; errors print as one line."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import load_config
from ..errors import ModelshelfError
from ..service.logging import configure_logging
from . import commands

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelshelf", description="Keep AI model files in one "
                                     "verified library.")
    parser.add_argument("--config", type=Path, help="config file (default: "
                        "$MODELSHELF_CONFIG or ~/.config/modelshelf/config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help_text: str, json: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if json:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    p = command("import", commands.cmd_import, "import model files or diffusers folders")
    p.add_argument("paths", nargs="+", metavar="PATH")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--move", action="store_true", help="move into the library (source removed "
                      "once the copy is verified)")
    mode.add_argument("--copy", action="store_true", help="copy, leaving the source (default)")
    p = command("list", commands.cmd_list, "list the models in the library")
    p.add_argument("--type", help="only this model type (lora, checkpoint, ...)")
    p = command("show", commands.cmd_show, "show one model")
    p.add_argument("model", metavar="MODEL", help="model id (or prefix), hash prefix or name")
    p = command("search", commands.cmd_search, "search names, types, families and tags")
    p.add_argument("text")
    command("rebuild-index", commands.cmd_rebuild_index, "rebuild models.db from metadata.json files")
    command("checkpoint", commands.cmd_checkpoint, "fold the index's WAL into the database")
    p = command("verify", commands.cmd_verify, "re-hash model files and compare with metadata.json")
    p.add_argument("model", nargs="?", metavar="MODEL", help="one model (default: all)")
    p = command("sync", commands.cmd_sync, "link library models into every app install")
    p.add_argument("model", nargs="?", metavar="MODEL", help="only this model (default: all)")
    p.add_argument("--dry-run", action="store_true", help="show where each model would go, change nothing")
    p = command("health", commands.cmd_health, "check links, app installs and library files")
    p.add_argument("--fix", action="store_true", help="repair what can be repaired safely")
    p.add_argument("--dry-run", action="store_true", help="with --fix: show the plan, change nothing")
    p = command("delete", commands.cmd_delete, "delete a model: its links, registry entries and files")
    p.add_argument("model", metavar="MODEL")
    p = command("relocate", commands.cmd_relocate, "a drive moved: rewrite link paths from OLD to NEW")
    p.add_argument("old", metavar="OLD_MOUNT")
    p.add_argument("new", metavar="NEW_MOUNT")
    p = command("apps", commands.cmd_apps, "configured app installs; `apps discover` finds installs on this "
                "machine")
    p.add_argument("action", nargs="?", choices=["discover"], help="discover: look in the usual places")
    p.add_argument("--add", action="store_true", help="with discover: add what was found to the config file")
    p = command("adopt", commands.cmd_adopt, "bring the models already in app installs into the library, "
                "leaving links in their place")
    p.add_argument("paths", nargs="*", metavar="PATH", help="an install or any folder of models "
                   "(default: every configured app install)")
    p.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    command("daemon", commands.cmd_daemon, "run the service (systemd runs this)", json=False)
    command("status", commands.cmd_status, "what the daemon is doing")
    command("jobs", commands.cmd_jobs, "the daemon's running, queued and recent imports")
    command("rescan", commands.cmd_rescan, "make the daemon rescan its inboxes now")
    command("retry-lookups", commands.cmd_retry_lookups, "look up pending models on the Hugging Face Hub now")
    p = command("identify", commands.cmd_identify, "look models up now (CivitAI, the Hub) and show what each said")
    p.add_argument("models", nargs="*", metavar="MODEL", help="id, name or hash prefix (default: all pending)")
    p.add_argument("--all", action="store_true", help="every model in the library, not only pending ones")
    command("install-service", commands.cmd_install_service,
            "write the systemd user unit for this installation", json=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, daemon=args.command == "daemon")
    try:
        config = load_config(args.config)
        return args.func(args, config)
    except ModelshelfError as e:
        print(f"modelshelf: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("modelshelf: interrupted", file=sys.stderr)
        return 130
    except sqlite3.Error as e:
        log.debug("index database error", exc_info=True)
        print(f"modelshelf: the index database failed ({e}); check the disk holding "
              f"{config.paths.state_dir if 'config' in locals() else 'the state folder'}", file=sys.stderr)
        return 2
    except OSError as e:  # an unexpected filesystem error still gets one clear line
        log.debug("unexpected error", exc_info=True)
        print(f"modelshelf: {e.strerror or e} ({e.filename or 'no file'})", file=sys.stderr)
        return 2
