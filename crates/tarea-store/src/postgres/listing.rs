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
        Some(text) => {
            let upper = match (cursor, before) {
                (Some(c), Some(b)) => Some(c.min(b)),
                (c, b) => c.or(b),
            };
            search_page(tx, &page, &conds, args, text, fetch, Bounds { upper, lower: after }).await?
        }
    };
    let jobs = jobs_from_rows(&rows)?;
    Ok(JobPage::of_fetched(jobs, f.limit.max(1)))
}

/// Newest jobs checked for the words first: enough when the words are common.
const SEARCH_WINDOW: i64 = 5_000;
/// Most matches read from the text index at once; past it, the newest jobs are walked.
const SEARCH_MATCHES: i64 = 20_000;
/// The id ranges searched next, newest first, as shares of the stored jobs (cumulative).
const SEARCH_SPANS: [f64; 2] = [0.05, 0.3];

/// Where a search may look: ids below `upper` (a cursor, `created_before`) and at or above
/// `lower` (`created_after`).
#[derive(Clone, Copy, Default)]
pub(crate) struct Bounds {
    pub(crate) upper: Option<uuid::Uuid>,
    pub(crate) lower: Option<uuid::Uuid>,
}

/// A page of the jobs that match `conds` and hold `text`, newest first.
///
/// Which plan is fast depends on how many jobs hold the words, which PostgreSQL cannot tell
/// for a prefix or a phrase (it guesses 0.3 %, and then walks every job for a word nobody
/// wrote: measured 1.3 s at 300,000 jobs). So the store asks in turn:
/// 1. the newest 5,000 jobs that pass the other filters, checked for the words (a common word
///    fills the page here);
/// 2. the matches among the newest 5 %, then the next 25 %, of the jobs: the text index ANDed
///    with a range of the primary key, so only matches inside the range are read (a word
///    matched by many older jobs but none of the newest used to read every match);
/// 3. the older matches, at most 20,000 of them;
/// 4. only for words that are rare among the newest jobs yet matched by more than 20,000 older
///    ones, the walk over every job.
///
/// Steps 2 and 3 read each range's matches, then those jobs newest first, a thousand at a time,
/// so the page costs its own size, not the number of matches.
async fn search_page(
    tx: &Tx<'_>,
    page: &(dyn Fn(&str, usize) -> String + Sync),
    conds: &str,
    mut args: Vec<&(dyn ToSql + Sync)>,
    text: &str,
    fetch: i64,
    bounds: Bounds,
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
    let mut rows = tx.query(sql.as_str(), &args).await.map_err(map_err)?;
    if rows.len() as i64 >= fetch {
        return Ok(rows);
    }
    rows.clear();
    args.truncate(base);

    // The newest 5 % and the next 25 % of the jobs, by the bounds of PostgreSQL's histogram of
    // job ids (equal counts of rows between bounds, as of the last ANALYZE; newer jobs sort
    // above its last bound, so the first range holds them too). Without statistics yet (a
    // small or new table) the ranges are skipped.
    let hist: Vec<uuid::Uuid> = tx
        .query_opt(
            "SELECT histogram_bounds::text::uuid[] FROM pg_stats WHERE schemaname = current_schema() \
             AND tablename = 'job_text' AND attname = 'job_id' AND NOT inherited LIMIT 1",
            &[],
        )
        .await
        .map_err(map_err)?
        .and_then(|r| r.get::<_, Option<Vec<uuid::Uuid>>>(0))
        .unwrap_or_default();
    let buckets = hist.len().saturating_sub(1).max(1) as f64;
    let inside: Vec<uuid::Uuid> = hist
        .into_iter()
        .filter(|b| bounds.upper.is_none_or(|u| *b < u) && bounds.lower.is_none_or(|l| *b > l))
        .collect();
    // Matches at or above `lo` and below `hi`: one range of step 2, or step 3's rest.
    let mut hi: Option<uuid::Uuid> = bounds.upper;
    for share in SEARCH_SPANS {
        let k = (buckets * share).ceil() as usize;
        let Some(&lo) = inside.len().checked_sub(k).and_then(|i| inside.get(i)) else { break };
        if hi.is_some_and(|h| lo >= h) {
            continue;
        }
        let found = matches(tx, text, Some(lo), hi).await?;
        if found.len() as i64 > SEARCH_MATCHES {
            return walk(tx, page, conds, args, text, fetch).await;
        }
        fetch_matches(tx, page, conds, &args, found.iter().map(|r| r.get(0)).collect(), fetch, &mut rows).await?;
        if rows.len() as i64 >= fetch {
            return Ok(rows);
        }
        hi = Some(lo);
    }

    let found = matches(tx, text, bounds.lower, hi).await?;
    if found.len() as i64 <= SEARCH_MATCHES {
        fetch_matches(tx, page, conds, &args, found.iter().map(|r| r.get(0)).collect(), fetch, &mut rows).await?;
        return Ok(rows);
    }
    // The walk starts over from the newest job: what the ranges found is found again.
    walk(tx, page, conds, args, text, fetch).await
}

/// Up to 20,001 ids of jobs that hold `text`, at or above `lo` and below `hi`, in no order, so
/// the text index's bitmap answers it (ANDed with the primary key's range when there is one).
async fn matches(
    tx: &Tx<'_>,
    text: &str,
    lo: Option<uuid::Uuid>,
    hi: Option<uuid::Uuid>,
) -> StoreResult<Vec<tokio_postgres::Row>> {
    let mut sql = String::from("SELECT job_id FROM job_text WHERE words @@ search_query($1::text)");
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&text];
    // Only the bounds given go into the statement, so each shape is planned for what it holds.
    for (cond, bound) in [(" AND job_id >= $", &lo), (" AND job_id < $", &hi)] {
        if let Some(b) = bound {
            args.push(b);
            sql.push_str(&format!("{cond}{}", args.len()));
        }
    }
    let most = SEARCH_MATCHES + 1;
    args.push(&most);
    sql.push_str(&format!(" LIMIT ${}", args.len()));
    tx.query(sql.as_str(), &args).await.map_err(map_err)
}

/// Adds to `rows` the jobs among `ids` that pass `conds`, newest first (ids are UUIDv7 and
/// compare as PostgreSQL does), a thousand at a time, until `rows` holds `fetch`.
async fn fetch_matches(
    tx: &Tx<'_>,
    page: &(dyn Fn(&str, usize) -> String + Sync),
    conds: &str,
    args: &[&(dyn ToSql + Sync)],
    mut ids: Vec<uuid::Uuid>,
    fetch: i64,
    rows: &mut Vec<tokio_postgres::Row>,
) -> StoreResult<()> {
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let base = args.len();
    let conds = format!("{conds} AND id = ANY(${}::uuid[])", base + 1);
    let sql = page(&conds, base + 2);
    for chunk in ids.chunks(1000) {
        let chunk = chunk.to_vec();
        // Limited to the chunk, not to what the page still wants: with a small limit PostgreSQL
        // walks a list index newest first looking for these ids (measured 40 ms for 426 ids in
        // one queue), instead of fetching them by their primary key and sorting them.
        let limit = chunk.len() as i64;
        let mut chunk_args = args.to_vec();
        chunk_args.extend([&chunk as &(dyn ToSql + Sync), &limit]);
        let want = (fetch - rows.len() as i64).max(0) as usize;
        rows.extend(tx.query(sql.as_str(), &chunk_args).await.map_err(map_err)?.into_iter().take(want));
        if rows.len() as i64 >= fetch {
            break;
        }
    }
    Ok(())
}

/// Every job that passes `conds`, newest first, checked for the words.
async fn walk(
    tx: &Tx<'_>,
    page: &(dyn Fn(&str, usize) -> String + Sync),
    conds: &str,
    mut args: Vec<&(dyn ToSql + Sync)>,
    text: &str,
    fetch: i64,
) -> StoreResult<Vec<tokio_postgres::Row>> {
    let base = args.len();
    args.extend([&text as &(dyn ToSql + Sync), &fetch]);
    let conds =
        format!("{conds} AND id IN (SELECT job_id FROM job_text WHERE words @@ search_query(${}::text))", base + 1);
    tx.query(page(&conds, base + 2).as_str(), &args).await.map_err(map_err)
}
