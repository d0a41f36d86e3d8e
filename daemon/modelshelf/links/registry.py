"""registry.db: every entry modelshelf made in an app (file links, manifests, API registrations),
so entries can be checked, repaired and removed.

Paths are stored relative where they can be: the link relative to its install, the source
relative to the library root. The install itself is absolute (external = on another filesystem
than the library), and `relocate` rewrites it when a drive moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..apps.base import AppInstall, AppKind, LinkKind, LinkRecord, PlacementMethod
from ..library.metadata import utc_now
from ..sqlite import Database

MIGRATIONS = [("initial", """
    CREATE TABLE installs (root TEXT PRIMARY KEY, mount_point TEXT NOT NULL, last_seen TEXT NOT NULL);
    CREATE TABLE links (
        install TEXT NOT NULL,
        target TEXT NOT NULL,
        model_id TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        external INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (install, target)
    );
    CREATE INDEX links_model ON links(model_id);
    """), ("entries of every app kind", """
    ALTER TABLE links ADD COLUMN method TEXT NOT NULL DEFAULT 'link';
    ALTER TABLE links ADD COLUMN key TEXT;
    ALTER TABLE installs ADD COLUMN kind TEXT NOT NULL DEFAULT 'comfyui';
    ALTER TABLE installs ADD COLUMN url TEXT NOT NULL DEFAULT '';
    CREATE TABLE pending (
        install TEXT NOT NULL,
        model_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (install, model_id)
    )
    """)]


def _record(row) -> LinkRecord:
    return LinkRecord(row["install"], row["target"], row["model_id"], row["source"], LinkKind(row["kind"]),
                      bool(row["external"]), PlacementMethod(row["method"]), row["key"])


def _prefix_clause(column: str) -> str:
    """Whole-component prefix match: /media/usb matches /media/usb and /media/usb/x, not /media/usb2."""
    return f"({column} = ?1 OR substr({column}, 1, length(?1) + 1) = ?1 || '/')"


class LinkRegistry(Database):
    def __init__(self, path: Path) -> None:
        super().__init__(path, MIGRATIONS)

    def add(self, record: LinkRecord) -> None:
        """Idempotent: the same link registered twice is one row."""
        with self.atomic() as db:
            db.execute("INSERT OR REPLACE INTO links (install, target, model_id, source, kind, external, created_at, "
                       "method, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (record.install, record.target, record.model_id, record.source, record.kind.value,
                        int(record.external), utc_now(), record.method.value, record.key))
            db.execute("DELETE FROM pending WHERE install = ? AND model_id = ?", (record.install, record.model_id))

    def add_install(self, root: Path, mount_point: str, kind: AppKind = AppKind.COMFYUI, url: str = "") -> None:
        with self.atomic() as db:
            db.execute("INSERT OR REPLACE INTO installs (root, mount_point, last_seen, kind, url) "
                       "VALUES (?, ?, ?, ?, ?)", (str(root), mount_point, utc_now(), kind.value, url))

    def known_installs(self) -> dict[str, AppInstall]:
        """Every install the registry knows, as the adapters need it (also once it left the config:
        its entries still have to be checked and removed). Rows of an unknown kind are skipped."""
        kinds = {k.value for k in AppKind}
        return {r["root"]: AppInstall(Path(r["root"]), AppKind(r["kind"]), url=r["url"])
                for r in self.query("SELECT root, kind, url FROM installs") if r["kind"] in kinds}

    # -- registrations that wait for an app's server (InvokeAI down): retried, imports never wait --
    def add_pending(self, install: str, model_id: str, reason: str) -> None:
        with self.atomic() as db:
            db.execute("INSERT OR IGNORE INTO pending VALUES (?, ?, ?, ?)", (install, model_id, reason, utc_now()))

    def pending(self) -> list[tuple[str, str, str]]:
        """(install, model_id, reason) of every registration still waiting."""
        return [(r["install"], r["model_id"], r["reason"])
                for r in self.query("SELECT * FROM pending ORDER BY since, install, model_id")]

    def remove_pending(self, install: str, model_id: str | None = None) -> None:
        with self.atomic() as db:
            if model_id is None:
                db.execute("DELETE FROM pending WHERE install = ?", (install,))
            else:
                db.execute("DELETE FROM pending WHERE install = ? AND model_id = ?", (install, model_id))

    def remove(self, records: Iterable[LinkRecord]) -> None:
        with self.atomic() as db:
            db.executemany("DELETE FROM links WHERE install = ? AND target = ?",
                           [(r.install, r.target) for r in records])

    def remove_install(self, root: str) -> None:
        with self.atomic() as db:
            db.execute("DELETE FROM links WHERE install = ?", (root,))
            db.execute("DELETE FROM pending WHERE install = ?", (root,))
            db.execute("DELETE FROM installs WHERE root = ?", (root,))

    def for_model(self, model_id: str) -> list[LinkRecord]:
        return [_record(r) for r in self.query("SELECT * FROM links WHERE model_id = ? ORDER BY install, target",
                                               (model_id,))]

    def for_install(self, install: str) -> list[LinkRecord]:
        return [_record(r) for r in self.query("SELECT * FROM links WHERE install = ? ORDER BY target", (install,))]

    def counts(self) -> dict[str, int]:
        """install -> number of entries."""
        return {r[0]: r[1] for r in self.query("SELECT install, count(*) FROM links GROUP BY install")}

    def all(self) -> list[LinkRecord]:
        return [_record(r) for r in self.query("SELECT * FROM links ORDER BY install, target")]

    def get(self, install: str, target: str) -> LinkRecord | None:
        rows = self.query("SELECT * FROM links WHERE install = ? AND target = ?", (install, target))
        return _record(rows[0]) if rows else None

    def installs(self) -> dict[str, str]:
        """Known installs: root -> the mount point it lived on when last seen."""
        return {r["root"]: r["mount_point"] for r in self.query("SELECT root, mount_point FROM installs")}

    def relocate(self, old: str, new: str) -> int:
        """Rewrite every install path under old to lie under new, in one transaction."""
        old, new = old.rstrip("/") or "/", new.rstrip("/") or "/"
        with self.atomic() as db:
            moved = db.execute(f"UPDATE links SET install = ?2 || substr(install, length(?1) + 1) "
                               f"WHERE {_prefix_clause('install')}", (old, new)).rowcount
            db.execute(f"UPDATE pending SET install = ?2 || substr(install, length(?1) + 1) "
                       f"WHERE {_prefix_clause('install')}", (old, new))
            db.execute(f"UPDATE installs SET root = ?2 || substr(root, length(?1) + 1), "
                       f"mount_point = CASE WHEN {_prefix_clause('mount_point')} "
                       f"THEN ?2 || substr(mount_point, length(?1) + 1) ELSE mount_point END "
                       f"WHERE {_prefix_clause('root')}", (old, new))
        return moved
