//! Pins the query plans the hot paths rely on, so a schema change cannot silently turn a claim
//! into a scan of the backlog.
use rusqlite::Connection;

use super::migrations;

fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
    rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn hot_queries_use_their_indexes() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrations::migrate(&mut conn).unwrap();
    assert_eq!(
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap() as usize,
        migrations::latest()
    );
    let claim = plan(
        &conn,
        "SELECT id, priority, run_at FROM jobs WHERE tenant = 't' AND queue = 'q' AND builtin = 1 \
         AND state = 1 ORDER BY priority DESC, run_at, id LIMIT 10",
    );
    assert!(claim.contains("INDEX jobs_claim") && !claim.contains("TEMP B-TREE"), "{claim}");
    let oldest = plan(
        &conn,
        "SELECT priority, run_at FROM jobs WHERE tenant = 't' AND queue = 'q' AND builtin = 0 AND state = 1 \
         AND priority < 5 ORDER BY priority DESC, run_at, id LIMIT 1",
    );
    assert!(oldest.contains("INDEX jobs_claim") && !oldest.contains("TEMP B-TREE"), "{oldest}");
    let batch = plan(
        &conn,
        "UPDATE jobs SET state = 3 FROM (SELECT unhex(value ->> 0) AS id, value ->> 1 AS attempt \
         FROM json_each('[]')) AS c WHERE jobs.id = c.id AND jobs.attempt = c.attempt AND jobs.state = 2",
    );
    assert!(batch.contains("sqlite_autoindex_jobs_1") && !batch.contains("SCAN jobs"), "{batch}");
    let claim_lane = plan(
        &conn,
        "UPDATE jobs SET state = 2 WHERE id IN (SELECT id FROM jobs WHERE tenant = 't' AND queue = 'q' \
         AND builtin = 1 AND state = 1 ORDER BY priority DESC, run_at, id LIMIT 10)",
    );
    assert!(claim_lane.contains("jobs_claim") && !claim_lane.contains("SCAN jobs"), "{claim_lane}");
    let due = plan(&conn, "SELECT id FROM jobs WHERE state IN (0, 4) AND run_at <= 5 ORDER BY run_at LIMIT 10");
    assert!(due.contains("jobs_due") && !due.contains("TEMP B-TREE"), "{due}");
    let lease = plan(&conn, "SELECT id FROM jobs WHERE state = 2 AND locked_until < 5 ORDER BY locked_until LIMIT 10");
    assert!(lease.contains("jobs_lease"), "{lease}");
    let finished =
        plan(&conn, "SELECT id FROM jobs WHERE state IN (3, 5, 6) AND finished_at < 5 ORDER BY finished_at LIMIT 10");
    assert!(finished.contains("jobs_finished"), "{finished}");
    let list =
        plan(&conn, "SELECT id FROM jobs WHERE tenant = 't' AND id < x'00' ORDER BY tenant DESC, id DESC LIMIT 10");
    assert!(list.contains("jobs_tenant") && !list.contains("TEMP B-TREE"), "{list}");
    // The search words of new jobs, written after their commit (deferred.rs): a rowid range.
    let words = plan(
        &conn,
        "SELECT max(rowid), count(*) FROM (SELECT rowid FROM jobs WHERE rowid > 5 ORDER BY rowid LIMIT 500)",
    );
    assert!(words.contains("USING INTEGER PRIMARY KEY (rowid>?)") && !words.contains("TEMP B-TREE"), "{words}");
}
