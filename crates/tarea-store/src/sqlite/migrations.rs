//! Versioned schema. `PRAGMA user_version` records how many migrations ran; each runs in the
//! same transaction as the version bump, so a crash mid-migration leaves the old schema.
//!
//! Queue counts are kept in `queues` rather than counted on demand (see `counts.rs`): depth
//! checks at enqueue, concurrency checks at claim and `/v1/queues` read one row instead of
//! scanning jobs.
use rusqlite::Connection;

/// States: 0 scheduled, 1 queued, 2 running, 3 succeeded, 4 failed, 5 dead, 6 cancelled.
///
/// `jobs` keeps its rowid: as a WITHOUT ROWID table clustered on the id, drain measured ~12 %
/// slower side by side (5 alternating runs) with no clear gain on enqueue.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tenants (
    name        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE,
    tenant      TEXT NOT NULL,
    admin       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE queues (
    tenant       TEXT NOT NULL,
    name         TEXT NOT NULL,
    paused       INTEGER NOT NULL DEFAULT 0,
    settings     TEXT NOT NULL DEFAULT '{}',
    concurrency  INTEGER,
    max_depth    INTEGER,
    rate_limit   REAL,
    rate_tokens  REAL NOT NULL DEFAULT 0,
    rate_at      INTEGER NOT NULL DEFAULT 0,
    n_scheduled  INTEGER NOT NULL DEFAULT 0,
    n_queued     INTEGER NOT NULL DEFAULT 0,
    n_running    INTEGER NOT NULL DEFAULT 0,
    n_succeeded  INTEGER NOT NULL DEFAULT 0,
    n_failed     INTEGER NOT NULL DEFAULT 0,
    n_dead       INTEGER NOT NULL DEFAULT 0,
    n_cancelled  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;

CREATE TABLE jobs (
    id              BLOB PRIMARY KEY,
    tenant          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    queue           TEXT NOT NULL,
    state           INTEGER NOT NULL,
    builtin         INTEGER NOT NULL,
    priority        INTEGER NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 0,
    attempt_base    INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    lost            INTEGER NOT NULL DEFAULT 0,
    payload         TEXT NOT NULL,
    progress        TEXT,
    result          TEXT,
    error           TEXT,
    tags            TEXT,
    idempotency_key TEXT,
    cache_key       TEXT,
    timeout_ms      INTEGER,
    retry_base_ms   INTEGER NOT NULL,
    retry_max_ms    INTEGER NOT NULL,
    locked_by       TEXT,
    locked_until    INTEGER,
    created_at      INTEGER NOT NULL,
    run_at          INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER
);

-- The claim query walks exactly this index: one seek per (tenant, queue, runner).
CREATE INDEX jobs_claim ON jobs (tenant, queue, builtin, priority DESC, run_at, id) WHERE state = 1;
-- The promoter: next due scheduled or failed job.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN (0, 4);
-- The reaper: expired leases.
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE state = 2;
-- The retention cleaner.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN (3, 5, 6);
-- Listings, newest first.
CREATE INDEX jobs_tenant ON jobs (tenant, id);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

"#,
    r#"
-- The node registry, external workers and the leader lease (see nodes.rs).
CREATE TABLE nodes (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    version     TEXT NOT NULL,
    role        TEXT NOT NULL,
    queues      TEXT NOT NULL,
    running     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE workers (
    tenant        TEXT NOT NULL,
    name          TEXT NOT NULL,
    queues        TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    seen_at       INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;

CREATE TABLE leader (
    name        TEXT PRIMARY KEY,
    node        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- Artifacts: metadata here, bytes in the artifact store (see artifacts.rs).
CREATE TABLE artifacts (
    id             BLOB PRIMARY KEY,
    tenant         TEXT NOT NULL,
    job_id         BLOB,
    kind           TEXT NOT NULL,
    filename       TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    cache_key      TEXT,
    provenance     TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    download_count INTEGER NOT NULL DEFAULT 0
);
-- Job views list their artifacts.
CREATE INDEX artifacts_job ON artifacts (job_id) WHERE job_id IS NOT NULL;
-- The cleaner.
CREATE INDEX artifacts_expiry ON artifacts (expires_at) WHERE expires_at IS NOT NULL;
-- Cache lookups (a later issue): the newest live artifact of a tenant's kind and key.
CREATE INDEX artifacts_cache ON artifacts (tenant, kind, cache_key) WHERE cache_key IS NOT NULL;

-- Per-tenant artifact retention: kind '' is the tenant's default.
CREATE TABLE artifact_retention (
    tenant  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    ttl_ms  INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind)
) WITHOUT ROWID;

-- Server secrets shared by every node (the signing key of artifact links).
CREATE TABLE secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- In-flight dedupe: a tenant's waiting or running job of a kind with a cache key.
CREATE INDEX jobs_cache ON jobs (tenant, kind, cache_key) WHERE cache_key IS NOT NULL;
"#,
    r#"
-- A tenant's templates, every upload a version. Deleted versions keep their row (deleted_at)
-- so that a number is never given out twice.
CREATE TABLE templates (
    tenant      TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    source      TEXT NOT NULL,
    assets      BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER,
    PRIMARY KEY (tenant, name, version)
) WITHOUT ROWID;
"#,
    r#"
-- Schedules: a cron pattern in a time zone and the job (a JobSpec as JSON) each tick makes.
-- A paused schedule has no next_run_at, so the due index holds only live ones.
CREATE TABLE schedules (
    tenant       TEXT NOT NULL,
    name         TEXT NOT NULL,
    cron         TEXT NOT NULL,
    timezone     TEXT NOT NULL,
    job          TEXT NOT NULL,
    paused       INTEGER NOT NULL DEFAULT 0,
    missed       TEXT NOT NULL,
    next_run_at  INTEGER,
    last_run_at  INTEGER,
    last_job_id  BLOB,
    last_error   TEXT,
    runs         INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;
"#,
    r#"
-- Batches and chains. An item knows its batch; a job made by a chain (or a batch's
-- on_complete) knows its parent; a job with `then` keeps that spec until its follow-up is made
-- (next_id), which the partial index finds without scanning finished jobs.
ALTER TABLE jobs ADD COLUMN batch_id BLOB;
ALTER TABLE jobs ADD COLUMN parent_id BLOB;
ALTER TABLE jobs ADD COLUMN then_spec TEXT;
ALTER TABLE jobs ADD COLUMN next_id BLOB;
CREATE INDEX jobs_batch ON jobs (batch_id, state) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_then_pending ON jobs (finished_at) WHERE then_spec IS NOT NULL AND next_id IS NULL AND state = 3;
CREATE TABLE batches (
    id           BLOB PRIMARY KEY,
    tenant       TEXT NOT NULL,
    total        INTEGER NOT NULL,
    on_complete  TEXT,
    callback_id  BLOB,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX batches_open ON batches (created_at) WHERE finished_at IS NULL;
CREATE INDEX batches_finished ON batches (finished_at) WHERE finished_at IS NOT NULL;
"#,
    r#"
-- A tenant's settings, by name (e-mail: its SMTP server and sender), as JSON text.
CREATE TABLE tenant_settings (
    tenant      TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
"#,
    r#"
-- Webhooks: subscriptions, and an outbox written in the transaction that makes each event (a
-- trigger on a job's state; batches write their own). The follow-up service empties it.
CREATE TABLE webhooks (
    id          BLOB PRIMARY KEY,
    tenant      TEXT NOT NULL,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    kinds       TEXT NOT NULL,
    queues      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant);
CREATE TABLE webhook_outbox (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant    TEXT NOT NULL,
    job_id    BLOB,
    batch_id  BLOB,
    event     TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE TRIGGER jobs_webhook_outbox AFTER UPDATE OF state ON jobs
WHEN NEW.state IN (3, 4, 5, 6) AND NEW.state <> OLD.state AND NEW.kind <> 'webhook.deliver'
    AND EXISTS (SELECT 1 FROM webhooks WHERE webhooks.tenant = NEW.tenant)
BEGIN
    INSERT INTO webhook_outbox (tenant, job_id, event, at) VALUES (NEW.tenant, NEW.id,
        CASE NEW.state WHEN 3 THEN 'job.succeeded' WHEN 4 THEN 'job.failed' WHEN 5 THEN 'job.dead'
        ELSE 'job.cancelled' END, COALESCE(NEW.finished_at, 0));
END;
"#,
    r#"
-- Read-only keys, and the dashboard's sessions: a random token's hash, the key it was opened
-- with (deleting the key ends its sessions) and when it ends.
ALTER TABLE api_keys ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
CREATE TABLE ui_sessions (
    hash        BLOB PRIMARY KEY,
    key_id      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
-- What was done in the dashboard: who, what, when, how many.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    tenant  TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    count   INTEGER NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant, id);
"#,
    r#"
-- The history of attempts: a job's row describes its latest attempt, so only an attempt that
-- another one follows is copied here, in the transaction that ends it. A first-time success
-- writes nothing. See tarea_core::history.
CREATE TABLE job_attempts (
    job_id      BLOB NOT NULL,
    attempt     INTEGER NOT NULL,
    tenant      TEXT NOT NULL,
    queue       TEXT NOT NULL,
    state       INTEGER NOT NULL,
    worker      TEXT,
    started_at  INTEGER,
    ended_at    INTEGER NOT NULL,
    error       TEXT,
    PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;
CREATE INDEX job_attempts_ended ON job_attempts (ended_at);
-- Rows are written by history.rs where an attempt ends (not by triggers: an AFTER UPDATE
-- trigger costs every claim and completion, measured 25 % of the drain, even when its WHEN
-- clause skips it).
CREATE TRIGGER jobs_attempts_deleted AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_attempts WHERE job_id = OLD.id;
END;
-- Finished work per minute, counted by the leader from jobs and job_attempts once a minute is
-- over (see stats.rs), for the dashboard's charts.
CREATE TABLE job_stats (
    tenant     TEXT NOT NULL,
    minute     INTEGER NOT NULL,
    queue      TEXT NOT NULL,
    succeeded  INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    dead       INTEGER NOT NULL,
    cancelled  INTEGER NOT NULL,
    PRIMARY KEY (tenant, minute, queue)
) WITHOUT ROWID;
CREATE INDEX job_stats_minute ON job_stats (minute);
CREATE TABLE stats_rolled (
    one    INTEGER PRIMARY KEY CHECK (one = 1),
    until  INTEGER NOT NULL
);
"#,
    r#"
-- Listings filtered by state, queue or kind walk an index of their own, newest first (see
-- listing.rs). The queue and kind entries never change after the insert; running jobs are left
-- out of the state index, so a claim only takes an entry out.
CREATE INDEX jobs_list_state ON jobs (tenant, state, id) WHERE state <> 2;
CREATE INDEX jobs_list_queue ON jobs (tenant, queue, id);
CREATE INDEX jobs_list_kind ON jobs (tenant, kind, id);
-- Search: the words of each job's payload, result and error, keyed by the job's rowid (rows are
-- never renumbered: tarea does not VACUUM). Contentless, so no text is stored twice.
CREATE VIRTUAL TABLE jobs_text USING fts5(body, content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO jobs_text (rowid, body)
    SELECT rowid, payload || ' ' || coalesce(result, '') || ' ' || coalesce(error, '') FROM jobs;
-- Kept up to date by listing.rs's `index_text` where a job's result or error changes, and for
-- new jobs by deferred.rs (triggers on insert and update cost every enqueue and completion
-- their row capture).
CREATE TRIGGER jobs_text_deleted AFTER DELETE ON jobs
BEGIN
    DELETE FROM jobs_text WHERE rowid = OLD.rowid;
END;
"#,
    r#"
-- The dashboard's lists of batches, files and keys, per tenant, newest first.
CREATE INDEX batches_tenant ON batches (tenant, id);
CREATE INDEX artifacts_tenant ON artifacts (tenant, id);
CREATE INDEX api_keys_tenant ON api_keys (tenant);
CREATE INDEX ui_sessions_key ON ui_sessions (key_id);
"#,
    r#"
-- Search words are written after the commit that makes a job, in steps of the writer's own
-- (deferred.rs): every job up to this rowid has its words in jobs_text.
CREATE TABLE jobs_text_upto (one INTEGER PRIMARY KEY CHECK (one = 1), upto INTEGER NOT NULL);
INSERT INTO jobs_text_upto VALUES (1, (SELECT coalesce(max(rowid), 0) FROM jobs));
-- Deleting the newest job frees its rowid for the next one (no AUTOINCREMENT): the mark moves
-- back below it, so that job is not taken for indexed.
CREATE TRIGGER jobs_text_upto_deleted AFTER DELETE ON jobs
WHEN OLD.rowid > coalesce((SELECT max(rowid) FROM jobs), 0)
BEGIN
    UPDATE jobs_text_upto SET upto = min(upto, coalesce((SELECT max(rowid) FROM jobs), 0));
END;
"#,
];

/// Applies the migrations this database has not seen yet.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied store migration");
    }
    Ok(())
}

/// How many migrations this build knows.
#[cfg(test)]
pub(crate) fn latest() -> usize {
    MIGRATIONS.len()
}
