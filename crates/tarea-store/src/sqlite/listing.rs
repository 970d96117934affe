//! Listing and searching jobs, newest first, over millions of rows.
//!
//! Each filter has an index that yields its jobs in id (creation) order, so a page costs about
//! its own size: `(tenant, state, id)` (without the few running jobs, so that a claim takes a
//! job out of it and nothing more), `(tenant, queue, id)`, `(tenant, kind, id)`. Time
//! filters are id ranges (ids are UUIDv7). With both a state and a queue, the queue counts say
//! exactly how many jobs match (none: the answer is empty at once) and which index holds fewer
//! rows to walk; SQLite's own estimate cannot tell them apart. Search reads the `jobs_text`
//! full-text index (FTS5, kept by `index_text`) newest match first.
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use tarea_core::{JobFilter, JobId, JobPage, JobState, StoreResult};

use super::map_err;
use super::rows::{JOB_COLUMNS, job_from_row};

/// A page of jobs, newest first.
pub(crate) fn list(conn: &Connection, tenant: &str, f: &JobFilter) -> StoreResult<JobPage> {
    let tenant = (!f.all_tenants).then_some(tenant);
    if let (Some(t), Some(state), Some(queue)) = (tenant, f.state, &f.queue)
        && count(conn, t, Some(queue), Some(state))? == 0
    {
        return Ok(JobPage { jobs: Vec::new(), next_cursor: None });
    }
    let search = f.search.as_deref().and_then(match_expression);
    let mut args: Vec<Value> = Vec::new();
    let mut sql = match &search {
        Some(expr) => {
            args.push(Value::Text(expr.clone()));
            format!(
                "SELECT {JOB_COLUMNS} FROM jobs_text CROSS JOIN jobs ON jobs.rowid = jobs_text.rowid WHERE jobs_text MATCH ?"
            )
        }
        None => format!("SELECT {JOB_COLUMNS} FROM jobs {} WHERE 1", index_for(conn, tenant, f)?),
    };
    if let Some(t) = tenant {
        sql.push_str(" AND tenant = ?");
        args.push(Value::Text(t.to_owned()));
    }
    if let Some(cursor) = f.cursor {
        sql.push_str(" AND id < ?");
        args.push(id_value(cursor));
        if search.is_some() {
            // Lets the full-text index start right below the cursor.
            sql.push_str(" AND jobs_text.rowid < (SELECT rowid FROM jobs WHERE id = ?)");
            args.push(id_value(cursor));
        }
    }
    if let Some(before) = f.created_before {
        sql.push_str(" AND id < ?");
        args.push(id_value(JobId::lowest_at(before)));
    }
    if let Some(after) = f.created_after {
        sql.push_str(" AND id >= ?");
        args.push(id_value(JobId::lowest_at(after)));
    }
    if let Some(state) = f.state {
        // `state <> 2` lets SQLite prove that jobs_list_state (running jobs left out) applies.
        if state == JobState::Running {
            // Written out, so that jobs_lease (running jobs only) can serve it.
            sql.push_str(" AND state = 2");
        } else {
            sql.push_str(" AND state = ? AND state <> 2");
            args.push(Value::Integer(state.code()));
        }
    }
    if let Some(queue) = &f.queue {
        sql.push_str(" AND queue = ?");
        args.push(Value::Text(queue.clone()));
    }
    if let Some(kind) = &f.kind {
        sql.push_str(" AND kind = ?");
        args.push(Value::Text(kind.clone()));
    }
    if let Some(tag) = &f.tag {
        sql.push_str(" AND tags IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)");
        args.push(Value::Text(tag.clone()));
    }
    if let Some(batch) = f.batch {
        sql.push_str(" AND batch_id = ?");
        args.push(Value::Blob(batch.as_bytes().to_vec()));
    }
    // Rows are inserted in id order (the one writer makes each id as it inserts it), so the
    // search's rowid order is id order.
    sql.push_str(if search.is_some() { " ORDER BY jobs_text.rowid DESC LIMIT ?" } else { " ORDER BY id DESC LIMIT ?" });
    let limit = f.limit.max(1);
    args.push(Value::Integer(i64::from(limit) + 1));
    let jobs = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_map(params_from_iter(args), job_from_row)?.collect::<Result<Vec<_>, _>>())
        .map_err(map_err)?;
    Ok(JobPage::of_fetched(jobs, limit))
}

fn id_value(id: JobId) -> Value {
    Value::Blob(id.as_bytes().to_vec())
}

/// The index a listing without search walks: the filter with the fewest jobs, by the queue
/// counts where they know; otherwise SQLite's choice.
fn index_for(conn: &Connection, tenant: Option<&str>, f: &JobFilter) -> StoreResult<&'static str> {
    let Some(tenant) = tenant else {
        return Ok("");
    };
    if f.batch.is_some() {
        return Ok("");
    }
    Ok(match (f.state, &f.queue, &f.kind) {
        // Running jobs are few, and jobs_list_state leaves them out.
        (Some(JobState::Running), _, _) => "INDEXED BY jobs_lease",
        (Some(state), Some(queue), _) => {
            let by_state = count(conn, tenant, None, Some(state))?;
            let by_queue = count(conn, tenant, Some(queue), None)?;
            if by_state <= by_queue { "INDEXED BY jobs_list_state" } else { "INDEXED BY jobs_list_queue" }
        }
        (Some(_), None, _) => "INDEXED BY jobs_list_state",
        (None, Some(_), _) => "INDEXED BY jobs_list_queue",
        (None, None, Some(_)) => "INDEXED BY jobs_list_kind",
        (None, None, None) => "INDEXED BY jobs_tenant",
    })
}

/// Jobs of a tenant, of one queue or all, in one state or all, from the queue counts.
fn count(conn: &Connection, tenant: &str, queue: Option<&str>, state: Option<JobState>) -> StoreResult<i64> {
    let column = match state {
        None => "n_scheduled + n_queued + n_running + n_succeeded + n_failed + n_dead + n_cancelled",
        Some(JobState::Scheduled) => "n_scheduled",
        Some(JobState::Queued) => "n_queued",
        Some(JobState::Running) => "n_running",
        Some(JobState::Succeeded) => "n_succeeded",
        Some(JobState::Failed) => "n_failed",
        Some(JobState::Dead) => "n_dead",
        Some(JobState::Cancelled) => "n_cancelled",
    };
    let sql = format!("SELECT sum({column}) FROM queues WHERE tenant = ?1 AND (?2 IS NULL OR name = ?2)");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(rusqlite::params![tenant, queue], |r| r.get::<_, Option<i64>>(0)).optional())
        .map(|n| n.flatten().unwrap_or(0))
        .map_err(map_err)
}

/// Puts the words of job `id` (its payload, result and error as they are now) in the search
/// index, in the transaction that changed them. A job past the indexed mark is left to
/// deferred.rs, which will index it as it is by then.
pub(crate) fn index_text(conn: &Connection, id: &[u8]) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO jobs_text (rowid, body) SELECT rowid, \
         payload || ' ' || coalesce(result, '') || ' ' || coalesce(error, '') FROM jobs WHERE id = ?1 \
         AND rowid <= (SELECT upto FROM jobs_text_upto)",
    )
    .and_then(|mut s| s.execute(rusqlite::params![id]))
    .map_err(map_err)?;
    Ok(())
}

/// The FTS5 query for what a person typed: its words as one phrase, the last one a prefix.
/// Quoting makes every character literal (no operators, no column filters); `None` when it
/// holds no word at all.
pub(crate) fn match_expression(text: &str) -> Option<String> {
    if !text.chars().any(char::is_alphanumeric) {
        return None;
    }
    Some(format!("\"{}\" *", text.trim().replace('"', "\"\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_person_types_becomes_one_quoted_prefix_phrase() {
        assert_eq!(match_expression("HP-2024-0153").as_deref(), Some("\"HP-2024-0153\" *"));
        assert_eq!(match_expression(" a \"b\" OR c* ").as_deref(), Some("\"a \"\"b\"\" OR c*\" *"));
        assert_eq!(match_expression(" -*\" "), None);
    }
}
