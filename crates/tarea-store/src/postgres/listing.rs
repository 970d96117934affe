//! Listing and searching jobs, newest first, mirroring the SQLite store's `listing.rs`.
//!
//! The list indexes leave running jobs out (see migration 6), so a listing that may include
//! them reads two ordered arms, the jobs that are not running and the few that are, and
//! merges them. Only the filters given go into the statement, so each combination gets a plan
//! of its own; the state is written into the statement for the same reason (a generic plan
//! cannot prove that `state = $n` keeps to a partial index). Search reads `job_text`, planned
//! with the words searched for.
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
    let page = |conds: &str, limit: usize| {
        let arm = |state: &str| {
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {state}{conds} ORDER BY id DESC LIMIT ${limit}")
        };
        match f.state {
            Some(JobState::Running) => arm("state = 2"),
            Some(state) => arm(&format!("state = {} AND state <> 2", state.code())),
            None => format!(
                "SELECT * FROM (({}) UNION ALL ({})) page ORDER BY id DESC LIMIT ${limit}",
                arm("state <> 2"),
                arm("state = 2")
            ),
        }
    };
    let rows = match search {
        None => {
            args.push(&fetch);
            let stmt = tx.prepare_cached(&page(&conds, args.len())).await.map_err(map_err)?;
            tx.query(&stmt, &args).await.map_err(map_err)?
        }
        Some(text) => search_page(tx, &page, &conds, args, text, fetch).await?,
    };
    let jobs = jobs_from_rows(&rows)?;
    Ok(JobPage::of_fetched(jobs, f.limit.max(1)))
}

/// Newest jobs checked for the words first: enough when the words are common.
const SEARCH_WINDOW: i64 = 5_000;
/// Most matches read from the text index at once; past it, the newest jobs are walked.
const SEARCH_MATCHES: i64 = 20_000;

/// A page of the jobs that match `conds` and hold `text`, newest first.
///
/// Which plan is fast depends on how many jobs hold the words, which PostgreSQL cannot tell
/// for a prefix or a phrase (it guesses 0.3 %, and then walks every job for a word nobody
/// wrote: measured 1.3 s at 300,000 jobs). So the store asks in turn: the newest 5,000 jobs
/// that pass the other filters, checked for the words (a common word fills the page here);
/// else the matches from the text index alone, at most 20,000 of them, then those jobs, newest
/// first, a thousand at a time; and
/// only for words that are rare among the newest jobs yet matched by more than 20,000 older
/// ones, the walk over every job.
async fn search_page(
    tx: &Tx<'_>,
    page: &(dyn Fn(&str, usize) -> String + Sync),
    conds: &str,
    mut args: Vec<&(dyn ToSql + Sync)>,
    text: &str,
    fetch: i64,
) -> StoreResult<Vec<tokio_postgres::Row>> {
    let base = args.len();
    args.extend([&text as &(dyn ToSql + Sync), &SEARCH_WINDOW, &fetch]);
    let sql = format!(
        "SELECT * FROM ({}) recent WHERE EXISTS (SELECT 1 FROM job_text t WHERE t.job_id = recent.id \
         AND t.words @@ search_query(${}::text)) ORDER BY id DESC LIMIT ${}",
        page(conds, base + 2),
        base + 1,
        base + 3
    );
    let rows = tx.query(sql.as_str(), &args).await.map_err(map_err)?;
    if rows.len() as i64 >= fetch {
        return Ok(rows);
    }
    args.truncate(base);

    // In no order, so the text index's bitmap answers it (its primary key would not help).
    let found = tx
        .query(
            "SELECT job_id FROM job_text WHERE words @@ search_query($1::text) LIMIT $2",
            &[&text, &(SEARCH_MATCHES + 1)],
        )
        .await
        .map_err(map_err)?;
    let mut ids: Vec<uuid::Uuid> = found.iter().map(|r| r.get(0)).collect();
    if ids.len() as i64 <= SEARCH_MATCHES {
        // Newest first (ids are UUIDv7 and compare as PostgreSQL does), a thousand at a time,
        // until the page is full: the page costs its own size, not the number of matches.
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let conds = format!("{conds} AND id = ANY(${}::uuid[])", base + 1);
        let sql = page(&conds, base + 2);
        let mut rows = Vec::new();
        for chunk in ids.chunks(1000) {
            let chunk = chunk.to_vec();
            let want = fetch - rows.len() as i64;
            let mut chunk_args = args.clone();
            chunk_args.extend([&chunk as &(dyn ToSql + Sync), &want]);
            rows.extend(tx.query(sql.as_str(), &chunk_args).await.map_err(map_err)?);
            if rows.len() as i64 >= fetch {
                break;
            }
        }
        return Ok(rows);
    }
    args.extend([&text as &(dyn ToSql + Sync), &fetch]);
    let conds =
        format!("{conds} AND id IN (SELECT job_id FROM job_text WHERE words @@ search_query(${}::text))", base + 1);
    tx.query(page(&conds, base + 2).as_str(), &args).await.map_err(map_err)
}
