//! Claims. For each unpaused (tenant, queue) with queued work, one seek into `jobs_claim` takes
//! at most what the queue's concurrency and rate limit allow; the candidates of all queues are
//! merged, and the winners move to `running` with their attempt + 1. The cost depends on the
//! number of jobs claimed and queues served, never on the backlog.
//!
//! The merge is fair between tenants: each tenant's candidates are ranked by priority, then
//! age, and the claim takes every tenant's first before any tenant's second. One tenant's
//! 100,000 queued jobs (or its priority 100) do not make another tenant's single job wait for
//! more than the jobs already running; within a tenant, priority and age order as before.
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use tarea_core::{ClaimParams, Job, JobState, StoreResult};

use super::map_err;
use super::rows::{JOB_COLUMNS, job_from_row, state_event};
use super::writer::Batch;

struct Lane {
    tenant: String,
    queue: String,
    allowance: u32,
    rate: Option<(f64, f64)>,
}

struct Candidate {
    id: Vec<u8>,
    priority: i64,
    run_at: i64,
    lane: usize,
}

pub(crate) fn claim(b: &mut Batch<'_>, p: &ClaimParams) -> StoreResult<Vec<Job>> {
    if p.max == 0 || p.kinds.as_ref().is_some_and(|k| k.is_empty()) {
        return Ok(Vec::new());
    }
    // Lanes read the queue counts: pending moves of this group must be in them.
    b.flush_moves()?;
    let lanes = lanes(b.conn, p)?;
    let until = p.now.saturating_add(p.lease_ms as i64);
    let mut claimed = Vec::new();
    let mut per_lane = vec![0u32; lanes.len()];
    if let [lane] = &lanes[..] {
        // One queue to serve (the common case): pick and update in one statement.
        claimed = claim_lane(b.conn, p, lane, until)?;
        per_lane[0] = claimed.len() as u32;
    } else {
        let mut candidates = Vec::new();
        for (i, lane) in lanes.iter().enumerate() {
            candidates.extend(candidates_of(b.conn, p, lane, i)?);
        }
        let mut candidates = fair_order(&lanes, candidates);
        candidates.truncate(p.max as usize);
        let sql = format!(
            "UPDATE jobs SET state = 2, attempt = attempt + 1, locked_by = ?2, locked_until = ?3, \
             started_at = ?4, finished_at = NULL, progress = NULL WHERE id = ?1 AND state = 1 RETURNING {JOB_COLUMNS}"
        );
        let mut stmt = b.conn.prepare_cached(&sql).map_err(map_err)?;
        for c in &candidates {
            let job =
                stmt.query_row(params![c.id, p.worker, until, p.now], job_from_row).optional().map_err(map_err)?;
            if let Some(job) = job {
                claimed.push(job);
                per_lane[c.lane] += 1;
            }
        }
    }
    for job in &claimed {
        b.moved(&job.tenant, &job.queue, Some(JobState::Queued), Some(JobState::Running));
        b.events.push(state_event(job));
    }
    for (lane, taken) in lanes.iter().zip(per_lane) {
        if let Some((_, tokens)) = lane.rate {
            b.conn
                .prepare_cached("UPDATE queues SET rate_tokens = ?3, rate_at = ?4 WHERE tenant = ?1 AND name = ?2")
                .and_then(|mut s| s.execute(params![lane.tenant, lane.queue, tokens - f64::from(taken), p.now]))
                .map_err(map_err)?;
        }
    }
    Ok(claimed)
}

/// Orders candidates fairly: by their rank within their tenant, then priority, then age.
fn fair_order(lanes: &[Lane], mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by(|a, c| c.priority.cmp(&a.priority).then(a.run_at.cmp(&c.run_at)).then(a.id.cmp(&c.id)));
    let mut seen: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let mut ranked: Vec<(u32, Candidate)> = candidates
        .into_iter()
        .map(|c| {
            let n = seen.entry(lanes[c.lane].tenant.as_str()).or_default();
            *n += 1;
            (*n, c)
        })
        .collect();
    // Stable: equal ranks keep the priority-then-age order of the sort above.
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// The queues that may give work now, each with how many jobs it may give.
fn lanes(conn: &Connection, p: &ClaimParams) -> StoreResult<Vec<Lane>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT tenant, name, concurrency, n_running, rate_limit, rate_tokens, rate_at FROM queues \
             WHERE (?1 IS NULL OR name = ?1) AND (?2 IS NULL OR tenant = ?2) AND paused = 0 AND n_queued > 0",
        )
        .map_err(map_err)?;
    let mut lanes = Vec::new();
    let mut names: Vec<Option<&String>> =
        if p.queues.is_empty() { vec![None] } else { p.queues.iter().map(Some).collect() };
    // A queue named twice must not make two lanes (each job would be a candidate twice).
    names.sort();
    names.dedup();
    for queue in names {
        let rows = stmt
            .query_map(params![queue, p.tenant], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(map_err)?;
        for row in rows {
            let (tenant, queue, concurrency, running, rate, tokens, rate_at) = row.map_err(map_err)?;
            let mut allowance = p.max;
            if let Some(c) = concurrency {
                allowance = allowance.min((c - running).max(0) as u32);
            }
            let rate = rate.filter(|r| *r > 0.0).map(|r| {
                let burst = r.max(1.0);
                let elapsed = (p.now - rate_at).max(0) as f64 / 1000.0;
                (r, (tokens + elapsed * r).min(burst))
            });
            if let Some((_, t)) = rate {
                allowance = allowance.min(t.floor().max(0.0) as u32);
            }
            if allowance > 0 {
                lanes.push(Lane { tenant, queue, allowance, rate });
            }
        }
    }
    Ok(lanes)
}

/// The kind filter of a claim, as SQL and arguments.
fn kinds_filter(p: &ClaimParams, sql: &mut String, args: &mut Vec<Value>) {
    if let Some(kinds) = &p.kinds {
        sql.push_str(" AND kind IN (");
        for (i, k) in kinds.iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
            args.push(Value::Text(k.clone()));
        }
        sql.push(')');
    }
}

/// Claims up to the lane's allowance in one `UPDATE … WHERE id IN (SELECT … LIMIT n)`.
fn claim_lane(conn: &Connection, p: &ClaimParams, lane: &Lane, until: i64) -> StoreResult<Vec<Job>> {
    let mut args = vec![
        Value::Text(p.worker.clone()),
        Value::Integer(until),
        Value::Integer(p.now),
        Value::Text(lane.tenant.clone()),
        Value::Text(lane.queue.clone()),
        Value::Integer(i64::from(p.builtin)),
    ];
    let mut pick = String::from("SELECT id FROM jobs WHERE tenant = ? AND queue = ? AND builtin = ? AND state = 1");
    kinds_filter(p, &mut pick, &mut args);
    pick.push_str(" ORDER BY priority DESC, run_at, id LIMIT ?");
    args.push(Value::Integer(i64::from(lane.allowance)));
    let sql = format!(
        "UPDATE jobs SET state = 2, attempt = attempt + 1, locked_by = ?, locked_until = ?, started_at = ?, \
         finished_at = NULL, progress = NULL WHERE id IN ({pick}) RETURNING {JOB_COLUMNS}"
    );
    let mut jobs = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_map(params_from_iter(args), job_from_row)?.collect::<Result<Vec<_>, _>>())
        .map_err(map_err)?;
    // RETURNING gives rows in no particular order; hand them out in claim order.
    jobs.sort_by(|a, c| c.priority.cmp(&a.priority).then(a.run_at.cmp(&c.run_at)).then(a.id.cmp(&c.id)));
    Ok(jobs)
}

fn candidates_of(conn: &Connection, p: &ClaimParams, lane: &Lane, index: usize) -> StoreResult<Vec<Candidate>> {
    let mut sql = String::from(
        "SELECT id, priority, run_at FROM jobs WHERE tenant = ? AND queue = ? AND builtin = ? AND state = 1",
    );
    let mut args =
        vec![Value::Text(lane.tenant.clone()), Value::Text(lane.queue.clone()), Value::Integer(i64::from(p.builtin))];
    kinds_filter(p, &mut sql, &mut args);
    sql.push_str(" ORDER BY priority DESC, run_at, id LIMIT ?");
    args.push(Value::Integer(i64::from(lane.allowance)));
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(params_from_iter(args), |r| {
                Ok(Candidate { id: r.get(0)?, priority: r.get(1)?, run_at: r.get(2)?, lane: index })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)
}

#[cfg(test)]
mod fairness_tests {
    use super::*;

    #[test]
    fn every_tenants_first_comes_before_any_tenants_second() {
        let lane = |t: &str| Lane { tenant: t.into(), queue: "q".into(), allowance: 10, rate: None };
        let lanes = [lane("grande"), lane("chico"), lane("medio")];
        let cand = |id: u8, lane: usize, priority: i64, run_at: i64| Candidate { id: vec![id], priority, run_at, lane };
        let c = vec![
            cand(1, 0, 100, 1),
            cand(2, 0, 100, 2),
            cand(3, 0, 0, 3),
            cand(4, 1, 0, 50),
            cand(5, 2, 5, 40),
            cand(6, 2, 0, 4),
        ];
        let c = fair_order(&lanes, c);
        let ids: Vec<u8> = c.iter().map(|c| c.id[0]).collect();
        assert_eq!(ids, [1, 5, 4, 2, 6, 3]);
    }
}
