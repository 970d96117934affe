//! Listing and searching jobs, newest first, mirroring the SQLite store's `listing.rs`.
//!
//! The list indexes leave running jobs out (see migration 6), so a listing that may include
//! them reads two ordered arms, the jobs that are not running and the few that are, and
//! merges them. Only the filters given go into the statement, so each combination gets a plan
//! of its own; the state is written into the statement for the same reason (a generic plan
//! cannot prove that `state = $n` keeps to a partial index). Search reads `job_text`.
use tarea_core::{JobFilter, JobId, JobPage, JobState, StoreResult};
use tokio_postgres::types::ToSql;

use super::rows::{JOB_COLUMNS, jobs_from_rows};
use super::{Tx, map_err};

pub(crate) async fn list(tx: &Tx<'_>, tenant: &str, f: &JobFilter) -> StoreResult<JobPage> {
    let limit = i64::from(f.limit.max(1));
    let fetch = limit + 1;
    let cursor = f.cursor.map(|c| c.0);
    let before = f.created_before.map(|t| JobId::lowest_at(t).0);
    let after = f.created_after.map(|t| JobId::lowest_at(t).0);
    let batch = f.batch.map(|b| b.0);
    let search = f.search.as_deref().filter(|s| s.chars().any(char::is_alphanumeric));
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let mut conds = String::new();
    fn push<'v>(cond: &str, arg: &'v (dyn ToSql + Sync), conds: &mut String, args: &mut Vec<&'v (dyn ToSql + Sync)>) {
        args.push(arg);
        conds.push_str(&cond.replace('?', &format!("${}", args.len())));
    }
    if !f.all_tenants {
        push(" AND tenant = ?", &tenant, &mut conds, &mut args);
    }
    for (cond, v) in [(" AND id < ?", &cursor), (" AND id < ?", &before), (" AND id >= ?", &after)] {
        if let Some(v) = v {
            push(cond, v, &mut conds, &mut args);
        }
    }
    if let Some(queue) = &f.queue {
        push(" AND queue = ?", queue, &mut conds, &mut args);
    }
    if let Some(kind) = &f.kind {
        push(" AND kind = ?", kind, &mut conds, &mut args);
    }
    if let Some(tag) = &f.tag {
        push(" AND tags @> ARRAY[?::text]", tag, &mut conds, &mut args);
    }
    if let Some(batch) = &batch {
        push(" AND batch_id = ?", batch, &mut conds, &mut args);
    }
    if let Some(text) = &search {
        push(
            " AND id IN (SELECT job_id FROM job_text WHERE words @@ (SELECT CASE WHEN q::text = '' THEN q \
             ELSE (q::text || ':*')::tsquery END FROM phraseto_tsquery('simple', search_words(?::text)) q))",
            text,
            &mut conds,
            &mut args,
        );
    }
    args.push(&fetch);
    let n = args.len();
    let arm = |state: &str| format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {state}{conds} ORDER BY id DESC LIMIT ${n}");
    let sql = match f.state {
        Some(JobState::Running) => arm("state = 2"),
        Some(state) => arm(&format!("state = {} AND state <> 2", state.code())),
        None => format!(
            "SELECT * FROM (({}) UNION ALL ({})) page ORDER BY id DESC LIMIT ${n}",
            arm("state <> 2"),
            arm("state = 2")
        ),
    };
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let rows = tx.query(&stmt, &args).await.map_err(map_err)?;
    let mut jobs = jobs_from_rows(&rows)?;
    let next_cursor = if jobs.len() > limit as usize {
        jobs.truncate(limit as usize);
        jobs.last().map(|j| j.id)
    } else {
        None
    };
    Ok(JobPage { jobs, next_cursor })
}
