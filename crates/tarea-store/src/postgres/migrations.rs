//! Versioned schema in its own PostgreSQL schema (default `tarea`), so it can live in the
//! app's database. Every migration runs in one transaction under an advisory lock, so nodes
//! that start at once apply each migration exactly once and the others wait for it.
//!
//! States are the same codes as SQLite's: 0 scheduled, 1 queued, 2 running, 3 succeeded,
//! 4 failed, 5 dead, 6 cancelled. Times are milliseconds since the epoch, as there.
use tokio_postgres::Client;

/// The migrations; `{schema}` is replaced by the quoted schema name.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tenants (
    name        text PRIMARY KEY,
    created_at  bigint NOT NULL
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    hash        bytea NOT NULL UNIQUE,
    tenant      text NOT NULL,
    admin       boolean NOT NULL,
    created_at  bigint NOT NULL
);

-- No counts here, unlike SQLite: with many nodes a counts row per queue would be one hot row
-- that every enqueue and claim of the queue waits for. Counts are read from jobs_counts.
CREATE TABLE queues (
    tenant       text NOT NULL,
    name         text NOT NULL,
    paused       boolean NOT NULL DEFAULT false,
    settings     jsonb NOT NULL DEFAULT '{}',
    concurrency  integer,
    max_depth    bigint,
    rate_limit   double precision,
    rate_tokens  double precision NOT NULL DEFAULT 0,
    rate_at      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE jobs (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL,
    kind            text NOT NULL,
    queue           text NOT NULL,
    state           smallint NOT NULL,
    builtin         boolean NOT NULL,
    priority        integer NOT NULL,
    attempt         integer NOT NULL DEFAULT 0,
    attempt_base    integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL,
    lost            integer NOT NULL DEFAULT 0,
    payload         json NOT NULL,
    progress        jsonb,
    result          json,
    error           jsonb,
    tags            text[],
    idempotency_key text,
    cache_key       text,
    timeout_ms      bigint,
    retry_base_ms   bigint NOT NULL,
    retry_max_ms    bigint NOT NULL,
    locked_by       text,
    locked_until    bigint,
    created_at      bigint NOT NULL,
    run_at          bigint NOT NULL,
    started_at      bigint,
    finished_at     bigint
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
-- Queue counts, concurrency (running per queue) and depth checks: index-only scans. Queued
-- jobs are left out on purpose: they are counted through jobs_claim, and an index that also
-- matched `state = 1` could be chosen for the claim on stale statistics (measured: a claim of
-- 32 jobs scanned and sorted all 25,000 queued ones, 16 ms instead of 0.2).
CREATE INDEX jobs_counts ON jobs (tenant, queue, state) WHERE state <> 1;

-- A queue table churns: keep its statistics and visibility map fresh far more often than the
-- defaults (20 % of the table) would.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02,
                      autovacuum_vacuum_insert_scale_factor = 0.02);

CREATE TABLE nodes (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    version     text NOT NULL,
    role        text NOT NULL,
    queues      text[] NOT NULL,
    running     integer NOT NULL,
    started_at  bigint NOT NULL,
    seen_at     bigint NOT NULL,
    expires_at  bigint NOT NULL
);

CREATE TABLE workers (
    tenant        text NOT NULL,
    name          text NOT NULL,
    queues        text[] NOT NULL,
    first_seen_at bigint NOT NULL,
    seen_at       bigint NOT NULL,
    expires_at    bigint NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE leader (
    name        text PRIMARY KEY,
    node        text NOT NULL,
    expires_at  bigint NOT NULL
);

CREATE TABLE builtin_kinds (
    kind        text PRIMARY KEY
);

-- A time-ordered UUIDv7 (PostgreSQL 17 has no uuidv7() of its own before version 18).
CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
        substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

-- The depth check of a queue with max_depth, after the new jobs are in: locks the queue row so
-- concurrent enqueues count one after the other, and raises TQ001 (message: the limit) past it.
CREATE FUNCTION check_depth(p_tenant text, p_queue text) RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT AS $$
DECLARE
    v_max bigint;
    v_n   bigint;
BEGIN
    SELECT q.max_depth INTO v_max FROM queues q WHERE q.tenant = p_tenant AND q.name = p_queue;
    IF v_max IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM queues q WHERE q.tenant = p_tenant AND q.name = p_queue FOR UPDATE;
    SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs j WHERE j.tenant = p_tenant AND j.queue = p_queue
                                  AND j.state = 1 LIMIT v_max + 1) AS a)
         + (SELECT count(*) FROM (SELECT 1 FROM jobs j WHERE j.tenant = p_tenant AND j.queue = p_queue
                                  AND j.state IN (0, 4) LIMIT v_max + 1) AS b)
      INTO v_n;
    IF v_n > v_max THEN
        RAISE EXCEPTION USING ERRCODE = 'TQ001', MESSAGE = v_max::text;
    END IF;
END
$$;

-- Transactional enqueue: call it inside the app's own transaction, and the job exists if and
-- only if that transaction commits. Workers on every node are woken at commit.
CREATE FUNCTION enqueue(
    tenant          text,
    kind            text,
    payload         jsonb DEFAULT '{}',
    queue           text DEFAULT 'default',
    priority        integer DEFAULT 0,
    run_at          timestamptz DEFAULT NULL,
    max_attempts    integer DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    tags            text[] DEFAULT NULL,
    timeout_ms      bigint DEFAULT NULL
) RETURNS uuid LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
    v_id       uuid;
    v_now      bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    v_run_at   bigint := COALESCE((extract(epoch FROM enqueue.run_at) * 1000)::bigint, v_now);
    v_settings jsonb;
    v_builtin  boolean;
    v_state    smallint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tenants t WHERE t.name = enqueue.tenant) THEN
        RAISE EXCEPTION 'tarea: unknown tenant %', enqueue.tenant USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF enqueue.kind IS NULL OR enqueue.kind !~ '^[a-z0-9._-]{1,64}$' THEN
        RAISE EXCEPTION 'tarea: kind % must be 1 to 64 of a-z, 0-9, ".", "_", "-"', enqueue.kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF enqueue.queue IS NULL OR enqueue.queue !~ '^[a-z0-9._-]{1,64}$' THEN
        RAISE EXCEPTION 'tarea: queue % must be 1 to 64 of a-z, 0-9, ".", "_", "-"', enqueue.queue
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF enqueue.priority NOT BETWEEN -100 AND 100 THEN
        RAISE EXCEPTION 'tarea: priority must be between -100 and 100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF enqueue.max_attempts IS NOT NULL AND enqueue.max_attempts NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'tarea: max_attempts must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF enqueue.idempotency_key IS NOT NULL THEN
        SELECT j.id INTO v_id FROM jobs j WHERE j.tenant = enqueue.tenant AND j.idempotency_key = enqueue.idempotency_key;
        IF FOUND THEN
            RETURN v_id;
        END IF;
    END IF;
    INSERT INTO queues (tenant, name) VALUES (enqueue.tenant, enqueue.queue) ON CONFLICT DO NOTHING;
    SELECT q.settings INTO v_settings FROM queues q WHERE q.tenant = enqueue.tenant AND q.name = enqueue.queue;
    v_builtin := EXISTS (SELECT 1 FROM builtin_kinds b WHERE b.kind = enqueue.kind);
    v_state := CASE WHEN v_run_at > v_now THEN 0 ELSE 1 END;
    v_id := uuid_v7();
    INSERT INTO jobs (id, tenant, kind, queue, state, builtin, priority, max_attempts, payload, tags,
                      idempotency_key, timeout_ms, retry_base_ms, retry_max_ms, created_at, run_at)
    VALUES (v_id, enqueue.tenant, enqueue.kind, enqueue.queue, v_state, v_builtin, enqueue.priority,
            COALESCE(enqueue.max_attempts, (v_settings ->> 'max_attempts')::integer, 5),
            enqueue.payload::json, NULLIF(enqueue.tags, '{}'), enqueue.idempotency_key, enqueue.timeout_ms,
            COALESCE((v_settings -> 'retry' ->> 'base_ms')::bigint, 1000),
            COALESCE((v_settings -> 'retry' ->> 'max_ms')::bigint, 600000),
            v_now, v_run_at)
    ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
    IF NOT FOUND THEN
        -- The same key committed by someone else meanwhile: theirs is the job.
        SELECT j.id INTO v_id FROM jobs j WHERE j.tenant = enqueue.tenant AND j.idempotency_key = enqueue.idempotency_key;
        RETURN v_id;
    END IF;
    PERFORM check_depth(enqueue.tenant, enqueue.queue);
    PERFORM pg_notify('{channel}', json_build_object('n', 'sql', 'e', json_build_array(json_build_array(
        v_id::text, enqueue.tenant, enqueue.queue, enqueue.kind, v_builtin::int, 0, v_state)))::text);
    RETURN v_id;
END
$$;
"#,
    r#"
-- Artifacts: metadata here, bytes in the artifact store (see artifacts.rs).
CREATE TABLE artifacts (
    id             uuid PRIMARY KEY,
    tenant         text NOT NULL,
    job_id         uuid,
    kind           text NOT NULL,
    filename       text NOT NULL,
    content_type   text NOT NULL,
    size           bigint NOT NULL,
    sha256         text NOT NULL,
    cache_key      text,
    provenance     jsonb,
    created_at     bigint NOT NULL,
    expires_at     bigint,
    download_count bigint NOT NULL DEFAULT 0
);
CREATE INDEX artifacts_job ON artifacts (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX artifacts_expiry ON artifacts (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX artifacts_cache ON artifacts (tenant, kind, cache_key) WHERE cache_key IS NOT NULL;

-- Per-tenant artifact retention: kind '' is the tenant's default.
CREATE TABLE artifact_retention (
    tenant  text NOT NULL,
    kind    text NOT NULL,
    ttl_ms  bigint NOT NULL,
    PRIMARY KEY (tenant, kind)
);

-- Server secrets shared by every node (the signing key of artifact links).
CREATE TABLE secrets (
    name   text PRIMARY KEY,
    value  bytea NOT NULL
);
"#,
    r#"
-- In-flight dedupe: a tenant's waiting or running job of a kind with a cache key.
CREATE INDEX jobs_cache ON jobs (tenant, kind, cache_key) WHERE cache_key IS NOT NULL;
"#,
    r#"
-- A tenant's templates, every upload a version. Deleted versions keep their row (deleted_at)
-- so that a number is never given out twice.
CREATE TABLE templates (
    tenant      text NOT NULL,
    name        text NOT NULL,
    version     integer NOT NULL,
    source      text NOT NULL,
    assets      bytea NOT NULL,
    created_at  bigint NOT NULL,
    deleted_at  bigint,
    PRIMARY KEY (tenant, name, version)
);
"#,
    r#"
-- Schedules: a cron pattern in a time zone and the job (a JobSpec as JSON text, so that its
-- payload keeps its bytes) each tick makes. A paused schedule has no next_run_at.
CREATE TABLE schedules (
    tenant       text NOT NULL,
    name         text NOT NULL,
    cron         text NOT NULL,
    timezone     text NOT NULL,
    job          text NOT NULL,
    paused       boolean NOT NULL DEFAULT false,
    missed       text NOT NULL,
    next_run_at  bigint,
    last_run_at  bigint,
    last_job_id  uuid,
    last_error   text,
    runs         bigint NOT NULL DEFAULT 0,
    created_at   bigint NOT NULL,
    updated_at   bigint NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;
"#,
    r#"
-- Batches and chains (see the SQLite migration of the same number).
ALTER TABLE jobs ADD COLUMN batch_id uuid, ADD COLUMN parent_id uuid, ADD COLUMN then_spec text,
    ADD COLUMN next_id uuid;
CREATE INDEX jobs_batch ON jobs (batch_id, state) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_then_pending ON jobs (finished_at) WHERE then_spec IS NOT NULL AND next_id IS NULL AND state = 3;
CREATE TABLE batches (
    id           uuid PRIMARY KEY,
    tenant       text NOT NULL,
    total        bigint NOT NULL,
    on_complete  text,
    callback_id  uuid,
    created_at   bigint NOT NULL,
    finished_at  bigint
);
CREATE INDEX batches_open ON batches (created_at) WHERE finished_at IS NULL;
CREATE INDEX batches_finished ON batches (finished_at) WHERE finished_at IS NOT NULL;
"#,
    r#"
-- A tenant's settings, by name (e-mail: its SMTP server and sender), as JSON text.
CREATE TABLE tenant_settings (
    tenant      text NOT NULL,
    name        text NOT NULL,
    value       text NOT NULL,
    updated_at  bigint NOT NULL,
    PRIMARY KEY (tenant, name)
);
"#,
    r#"
-- Webhooks (see the SQLite migration of the same number).
CREATE TABLE webhooks (
    id          uuid PRIMARY KEY,
    tenant      text NOT NULL,
    url         text NOT NULL,
    events      text[] NOT NULL,
    kinds       text[] NOT NULL,
    queues      text[] NOT NULL,
    created_at  bigint NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant);
CREATE TABLE webhook_outbox (
    seq       bigserial PRIMARY KEY,
    tenant    text NOT NULL,
    job_id    uuid,
    batch_id  uuid,
    event     text NOT NULL,
    at        bigint NOT NULL
);
CREATE FUNCTION webhook_outbox_job() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.kind <> 'webhook.deliver' AND EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant = NEW.tenant) THEN
        INSERT INTO webhook_outbox (tenant, job_id, event, at) VALUES (NEW.tenant, NEW.id,
            CASE NEW.state WHEN 3 THEN 'job.succeeded' WHEN 4 THEN 'job.failed' WHEN 5 THEN 'job.dead'
            ELSE 'job.cancelled' END, COALESCE(NEW.finished_at, 0));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_webhook_outbox AFTER UPDATE OF state ON jobs FOR EACH ROW
WHEN (NEW.state IN (3, 4, 5, 6) AND NEW.state IS DISTINCT FROM OLD.state)
EXECUTE FUNCTION webhook_outbox_job();
"#,
    r#"
-- Read-only keys, and the dashboard's sessions (as in SQLite's migration 4).
ALTER TABLE api_keys ADD COLUMN read_only boolean NOT NULL DEFAULT false;
CREATE TABLE ui_sessions (
    hash        bytea PRIMARY KEY,
    key_id      text NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      bigint NOT NULL,
    tenant  text NOT NULL,
    key_id  text NOT NULL,
    action  text NOT NULL,
    target  text NOT NULL,
    count   bigint NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant, id);
"#,
    r#"
-- The history of attempts and per-minute statistics (as in SQLite's migration 5): only an
-- attempt that another one follows is copied here, by a row trigger whose WHEN clause keeps a
-- first-time success from calling it at all.
CREATE TABLE job_attempts (
    job_id      uuid NOT NULL,
    attempt     integer NOT NULL,
    tenant      text NOT NULL,
    queue       text NOT NULL,
    state       smallint NOT NULL,
    worker      text,
    started_at  bigint,
    ended_at    bigint NOT NULL,
    error       jsonb,
    PRIMARY KEY (job_id, attempt)
);
CREATE INDEX job_attempts_ended ON job_attempts (ended_at);
CREATE FUNCTION job_attempt_ended() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO job_attempts VALUES (NEW.id, OLD.attempt, NEW.tenant, NEW.queue, NEW.state, OLD.locked_by,
        OLD.started_at, CASE NEW.state WHEN 4 THEN NEW.finished_at ELSE NEW.run_at END,
        CASE WHEN NEW.state = 4 OR NEW.lost > OLD.lost THEN NEW.error END)
    ON CONFLICT (job_id, attempt) DO UPDATE SET state = EXCLUDED.state, ended_at = EXCLUDED.ended_at,
        error = EXCLUDED.error;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_attempt_ended AFTER UPDATE OF state ON jobs FOR EACH ROW
WHEN (OLD.state = 2 AND NEW.state IN (1, 4))
EXECUTE FUNCTION job_attempt_ended();
CREATE FUNCTION job_attempt_retried() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO job_attempts VALUES (OLD.id, OLD.attempt, OLD.tenant, OLD.queue, OLD.state, OLD.locked_by,
        OLD.started_at, COALESCE(OLD.finished_at, OLD.run_at), OLD.error)
    ON CONFLICT (job_id, attempt) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_attempt_retried AFTER UPDATE OF state ON jobs FOR EACH ROW
WHEN (OLD.state IN (3, 5, 6) AND NEW.state NOT IN (3, 5, 6) AND OLD.attempt > 0)
EXECUTE FUNCTION job_attempt_retried();
-- Deleted jobs take their history along: one statement per DELETE, not one call per row.
CREATE FUNCTION job_attempts_deleted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM job_attempts a USING gone g WHERE a.job_id = g.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_attempts_deleted AFTER DELETE ON jobs REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT EXECUTE FUNCTION job_attempts_deleted();
CREATE TABLE job_stats (
    tenant     text NOT NULL,
    minute     bigint NOT NULL,
    queue      text NOT NULL,
    succeeded  bigint NOT NULL,
    failed     bigint NOT NULL,
    dead       bigint NOT NULL,
    cancelled  bigint NOT NULL,
    PRIMARY KEY (tenant, minute, queue)
);
CREATE INDEX job_stats_minute ON job_stats (minute);
CREATE TABLE stats_rolled (
    one    integer PRIMARY KEY CHECK (one = 1),
    until  bigint NOT NULL
);
"#,
    r#"
-- Listings filtered by state, queue or kind walk an index of their own, newest first (see
-- listing.rs). Running jobs are left out: a claim and every heartbeat would otherwise add
-- entries to each (no update of a job is HOT), and running jobs are few and found through
-- jobs_lease.
CREATE INDEX jobs_list_state ON jobs (tenant, state, id) WHERE state <> 2;
CREATE INDEX jobs_list_queue ON jobs (tenant, queue, id) WHERE state <> 2;
CREATE INDEX jobs_list_kind ON jobs (tenant, kind, id) WHERE state <> 2;
-- Search: the words of each job's payload, result and error in a table of their own, so the
-- many updates of a job that change neither leave the text index alone. Lower case, accents
-- folded as in SQLite.
-- Words are runs of letters and digits, as SQLite's tokenizer has them (PostgreSQL's own parser
-- would keep `informe-final.pdf` or an e-mail address whole).
CREATE FUNCTION search_words(t text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT regexp_replace(translate(lower(t), 'áéíóúüñàèìòùâêîôûç', 'aeiouunaeiouaeiouc'), '[^[:alnum:]]+', ' ', 'g') $$;
-- What a person typed, as a query: its words as one phrase, the last a prefix. Immutable, so a
-- plan made with the text folds it to a constant whose selectivity the statistics know.
CREATE FUNCTION search_query(t text) RETURNS tsquery LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN q::text = '' THEN q ELSE (q::text || ':*')::tsquery END
      FROM phraseto_tsquery('simple', search_words(t)) q $$;
CREATE FUNCTION job_words(payload json, result json, error jsonb) RETURNS tsvector LANGUAGE sql IMMUTABLE
AS $$ SELECT to_tsvector('simple', search_words(payload::text || ' ' || coalesce(result::text, '') || ' '
    || coalesce(error::text, ''))) $$;
CREATE TABLE job_text (
    job_id  uuid PRIMARY KEY,
    words   tsvector NOT NULL
);
CREATE INDEX job_text_words ON job_text USING gin (words);
INSERT INTO job_text SELECT id, job_words(payload, result, error) FROM jobs;
CREATE FUNCTION job_text_added() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO job_text SELECT id, job_words(payload, NULL, NULL) FROM added;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_text_added AFTER INSERT ON jobs REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION job_text_added();
CREATE FUNCTION job_text_changed() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO job_text VALUES (NEW.id, job_words(NEW.payload, NEW.result, NEW.error))
    ON CONFLICT (job_id) DO UPDATE SET words = EXCLUDED.words;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_text_changed AFTER UPDATE OF result, error ON jobs FOR EACH ROW
WHEN (NEW.result::text IS DISTINCT FROM OLD.result::text OR NEW.error IS DISTINCT FROM OLD.error)
EXECUTE FUNCTION job_text_changed();
CREATE FUNCTION job_text_deleted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM job_text t USING gone g WHERE t.job_id = g.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_text_deleted AFTER DELETE ON jobs REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT EXECUTE FUNCTION job_text_deleted();
"#,
    r#"
-- The dashboard's lists of batches, files and keys, per tenant, newest first.
CREATE INDEX batches_tenant ON batches (tenant, id);
CREATE INDEX artifacts_tenant ON artifacts (tenant, id);
CREATE INDEX api_keys_tenant ON api_keys (tenant);
CREATE INDEX ui_sessions_key ON ui_sessions (key_id);
"#,
];

/// The channel on which this schema's nodes hear of each other's changes.
pub(crate) fn channel(schema: &str) -> String {
    format!("tarea_events_{schema}")
}

/// Creates the schema if needed and applies the migrations it has not seen yet.
pub(crate) async fn migrate(client: &mut Client, schema: &str) -> Result<(), tokio_postgres::Error> {
    let quoted = quote_ident(schema);
    let tx = client.transaction().await?;
    // One node migrates at a time; the others wait here and then find nothing left to do.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('tarea.migrate'), hashtext($1))", &[&schema]).await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {quoted}; \
         CREATE TABLE IF NOT EXISTS {quoted}.schema_version (version integer NOT NULL); \
         SET LOCAL search_path TO {quoted}, public;"
    ))
    .await?;
    let done: i64 = tx
        .query_one(&format!("SELECT COALESCE(MAX(version), 0)::bigint FROM {quoted}.schema_version"), &[])
        .await?
        .get(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        let sql = sql.replace("{channel}", &channel(schema));
        tx.batch_execute(&sql).await?;
        tx.execute(&format!("INSERT INTO {quoted}.schema_version (version) VALUES ($1)"), &[&(i as i32 + 1)]).await?;
        tracing::info!(version = i + 1, schema, "applied store migration");
    }
    tx.commit().await
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
