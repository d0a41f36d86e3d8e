"""One function per subcommand: open what it needs, call one library function, print."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .. import actions
from ..actions import Report
from ..config import Config, ImportMode
from ..errors import ModelshelfError
from ..ingest import ImportJob, find_importables
from ..links.health import HealthStatus
from ..shelf import Shelf
from . import remote, render
from .progress import ProgressLine


def cmd_import(args: argparse.Namespace, config: Config) -> int:
    mode = ImportMode.MOVE if args.move else ImportMode.COPY if args.copy else config.imports.mode
    queued = remote.try_ask(config, "import", {"paths": [os.path.abspath(p) for p in args.paths],
                                               "mode": mode.value})
    if queued is not None:  # the daemon owns the library while it runs
        jobs = remote.follow_jobs(config, queued["job_ids"], quiet=args.json)
        if args.json:
            print(render.to_json(jobs))
        return 1 if any(j["state"] == "failed" for j in jobs) else 0
    progress = ProgressLine()
    results, failures = [], 0
    with Shelf(config, writer=True, purpose="import") as shelf:
        importer = shelf.importer(on_progress=progress)
        for path in args.paths:
            for source in find_importables(Path(path)) or [Path(path)]:
                try:
                    result = importer.run(ImportJob(source, mode))
                except ModelshelfError as e:
                    failures += 1
                    progress.clear()
                    print(f"error: {e}", file=sys.stderr)
                    continue
                progress.clear()
                results.append(result)
                if not args.json:
                    print(render.import_line(result))
        importer.checkpoint()  # the end of a batch
    if args.json:
        print(render.to_json(results))
    return 1 if failures else 0


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    with Shelf(config, writer=False) as shelf:
        models = shelf.index.all(args.type)
    print(render.to_json(models) if args.json else render.model_table(models))
    return 0


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    with Shelf(config, writer=False) as shelf:
        models = shelf.index.search(args.text)
    print(render.to_json(models) if args.json else render.model_table(models))
    return 0


def cmd_show(args: argparse.Namespace, config: Config) -> int:
    from ..identify.view import identification_view
    from ..library import read_metadata
    from ..library.metadata import METADATA_NAME
    with Shelf(config, writer=False) as shelf:
        model = shelf.index.resolve(args.model)
        files = shelf.index.files(model.model_id)
        meta = read_metadata(shelf.library.folder(model.path) / METADATA_NAME)
    ident = identification_view(meta, model.path, [str(p) for p in config.identify.providers])
    if args.json:
        print(render.to_json({"model": model, "files": files, "identification": ident}))
    else:
        print(render.model_details(model, files))
        print(render.identification_view(ident, shelf.library.folder(model.path)))
    return 0


IDENTIFY_TIMEOUT = 600.0     # a round may wait out throttles (60 calls a minute) and 429 backoffs


def cmd_identify(args: argparse.Namespace, config: Config) -> int:
    params = {"models": args.models, "all": args.all}
    result = remote.try_ask(config, "identify", params, timeout=IDENTIFY_TIMEOUT)
    if result is None:
        from ..identify.wiring import build_lookup_worker, chosen_models
        with Shelf(config, writer=True, purpose="identify") as shelf:
            ids = chosen_models(shelf.index, args.models, args.all)
            worker = build_lookup_worker(config, shelf.writer)
            try:
                outcomes = worker.lookup_many(ids)
                result = {"models": [worker.report(m) | {"outcome": str(o)} for m, o in outcomes.items()]}
            finally:
                worker.close()
    if args.json:
        print(render.to_json(result))
    else:
        print("\n\n".join(render.identify_result(m) for m in result["models"]) or "no models to identify")
    return 1 if any(m.get("outcome") == "failed" for m in result["models"]) else 0


def cmd_rebuild_index(args: argparse.Namespace, config: Config) -> int:
    summary = _maintenance(config, "rebuild-index", {}, actions.rebuild)
    print(render.to_json(summary) if args.json else render.rebuild_summary(summary))
    return 0


def cmd_checkpoint(args: argparse.Namespace, config: Config) -> int:
    done = _maintenance(config, "checkpoint", {}, actions.checkpoint)
    print(render.to_json(done) if args.json
          else f"checkpointed {done['checkpointed']} of {done['wal_pages']} WAL pages into {config.index_path}")
    return 0


def cmd_verify(args: argparse.Namespace, config: Config) -> int:
    checks = []
    with Shelf(config, writer=False) as shelf:
        for check in actions.verify(shelf, args.model):
            checks.append(check)
            if not args.json:
                print(render.verify_line(check))
    if args.json:
        print(render.to_json(checks))
    failed = sum(not c.ok for c in checks)
    if not args.json:
        print(f"{len(checks) - failed} ok, {failed} failed")
    return 1 if failed else 0


def cmd_daemon(args: argparse.Namespace, config: Config) -> int:
    from ..service.daemon import Daemon
    return Daemon(config).run()


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    status = remote.ask(config, "status")
    print(render.to_json(status) if args.json else render.status_view(status))
    return 0


def cmd_jobs(args: argparse.Namespace, config: Config) -> int:
    jobs = remote.ask(config, "jobs")
    print(render.to_json(jobs) if args.json else render.jobs_view(jobs))
    return 0


def cmd_rescan(args: argparse.Namespace, config: Config) -> int:
    done = remote.ask(config, "rescan")
    print(render.to_json(done) if args.json else f"rescanned the inboxes: {done['entries_seen']} entries seen")
    return 0


def cmd_install_service(args: argparse.Namespace, config: Config) -> int:
    from ..service.unit import broad_app_roots, install_unit
    path = install_unit(config)
    print(f"wrote {path}\nstart it with: systemctl --user daemon-reload && "
          "systemctl --user enable --now modelshelf")
    for root in broad_app_roots(config):
        print(f"note: app root {root!r} reaches the whole home folder; the unit makes only the installs "
              "found now writable: run install-service again after adding one", file=sys.stderr)
    return 0


def cmd_retry_lookups(args: argparse.Namespace, config: Config) -> int:
    queued = remote.try_ask(config, "retry-lookups")
    if queued is not None:
        print(render.to_json(queued) if args.json else f"queued {queued['queued']} Hub lookups in the daemon")
        return 0
    from ..identify.wiring import build_lookup_worker
    with Shelf(config, writer=True, purpose="retry-lookups") as shelf:
        worker = build_lookup_worker(config, shelf.writer)
        try:
            outcomes = worker.lookup_many(shelf.index.pending_ids())
        finally:
            worker.close()
    if args.json:
        print(render.to_json(outcomes))
    else:
        print("\n".join(f"{m}  {o}" for m, o in outcomes.items()) or "no pending lookups")
    return 0


def _maintenance(config: Config, method: str, params: dict, local: Callable[[Shelf], Report]) -> dict:
    """Through the daemon when it runs, else directly on the library (holding the writer lock)."""
    result = remote.try_ask(config, method, params)
    if result is None:
        with Shelf(config, writer=True, purpose=method) as shelf:
            result = local(shelf).as_json()
    return result


def cmd_sync(args: argparse.Namespace, config: Config) -> int:
    if args.dry_run:                    # reads only: no lock, no daemon needed
        with Shelf(config, writer=False) as shelf:
            model = shelf.index.resolve(args.model) if args.model else None
            plan = shelf.linker().plan_all(model)
        print(render.to_json(plan) if args.json else render.plan_lines(plan))
        return 0
    result = _maintenance(config, "sync", {"model": args.model}, lambda s: actions.sync(s, args.model))
    print(render.to_json(result) if args.json else render.sync_summary(result))
    return 1 if result["problems"] else 0


def cmd_health(args: argparse.Namespace, config: Config) -> int:
    params = {"fix": args.fix, "dry_run": args.dry_run}
    result = _maintenance(config, "health", params, lambda s: actions.health(s, args.fix, args.dry_run))
    print(render.to_json(result) if args.json else render.health_view(result, args.fix and not args.dry_run))
    final = result.get("status_after", result["status"])
    return 1 if final == HealthStatus.ERRORS else 0


def cmd_delete(args: argparse.Namespace, config: Config) -> int:
    result = _maintenance(config, "delete", {"model": args.model}, lambda s: actions.delete(s, args.model))
    print(render.to_json(result) if args.json else
          f"deleted {result['deleted']} [{result['model_id']}] and {result['links_removed']} links to it")
    return 0


def cmd_relocate(args: argparse.Namespace, config: Config) -> int:
    params = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    result = _maintenance(config, "relocate", params, lambda s: actions.relocate_drive(s, params["old"], params["new"]))
    print(render.to_json(result) if args.json else
          f"moved {result['rows_moved']} registry entries from {params['old']} to {params['new']}; "
          f"recreated {result['links_recreated']} links")
    return 0


def cmd_apps(args: argparse.Namespace, config: Config) -> int:
    from ..apps.discover import add_to_config, discover
    from ..config import default_config_path
    if args.action == "discover":
        found = discover(config.apps)
        added = 0
        if args.add:
            added = add_to_config(config.source or default_config_path(), found)
        print(render.to_json({"found": found, "added": added}) if args.json else
              render.discovered(found, Path.home(), added, config.source or default_config_path()))
        return 0
    if args.add:
        raise ModelshelfError("--add goes with `modelshelf apps discover --add`")
    from ..links.overview import apps_overview
    with Shelf(config, writer=False) as shelf:
        views = apps_overview(shelf.library.root, shelf.registry, config.apps)
    print(render.to_json(views) if args.json else render.apps_table(views))
    return 1 if any(v.problems for v in views) else 0


def cmd_adopt(args: argparse.Namespace, config: Config) -> int:
    from ..adopt import adopt, as_import_progress, lines
    paths = [os.path.abspath(p) for p in args.paths]
    result = remote.try_ask(config, "adopt", {"paths": paths, "dry_run": args.dry_run}, timeout=None)
    if result is None:  # no daemon: adopt here, holding the writer lock (a dry run reads only)
        progress = ProgressLine()
        with Shelf(config, writer=not args.dry_run, purpose="adopt") as shelf:
            report = adopt(shelf, paths, dry_run=args.dry_run, on_progress=as_import_progress("adopt", progress))
        progress.clear()
        result = report.as_json()
    print(render.to_json(result) if args.json else "\n".join(lines(result)))
    return 1 if any(f["outcome"] == "skipped" for f in result.get("files", [])) else 0

