"""models.db migrations, applied in order and recorded in the migrations table."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    ("initial", """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE models (
        model_id TEXT PRIMARY KEY,
        blake3 TEXT NOT NULL UNIQUE,
        sha256 TEXT NOT NULL,
        model_type TEXT NOT NULL,
        family TEXT NOT NULL,
        cleaned_name TEXT NOT NULL,
        official_name TEXT,
        format TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        primary_file TEXT,
        size_bytes INTEGER NOT NULL,
        file_count INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        classification_method TEXT NOT NULL,
        confidence REAL NOT NULL,
        pending_online_lookup INTEGER NOT NULL,
        hub_repo_id TEXT,
        tags TEXT NOT NULL
    );
    CREATE INDEX models_sha256 ON models(sha256);
    CREATE INDEX models_type_family ON models(model_type, family);
    CREATE INDEX models_name ON models(cleaned_name);
    CREATE INDEX models_pending ON models(pending_online_lookup) WHERE pending_online_lookup;
    CREATE TABLE files (
        model_id TEXT NOT NULL REFERENCES models(model_id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        blake3 TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (model_id, name)
    );
    CREATE INDEX files_blake3 ON files(blake3);
    CREATE INDEX files_sha256 ON files(sha256);
    """),
    ("dirty", """
    CREATE TABLE dirty (path TEXT PRIMARY KEY, since TEXT NOT NULL);
    """),
    # Schema v2 of metadata.json: a trainer's own hashes from the header (kohya sshs_*, modelspec),
    # space-separated and searched by prefix like the SHA-256; the preview image beside the model
    # (linked into the apps that show previews). Existing rows get theirs at the next rebuild.
    ("metadata_v2", """
    ALTER TABLE models ADD COLUMN header_hashes TEXT NOT NULL DEFAULT '';
    ALTER TABLE models ADD COLUMN preview TEXT;
    """),
]
