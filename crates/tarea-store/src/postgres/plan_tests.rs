//! Pins the plans of the hot statements on PostgreSQL, as `sqlite/plan_tests.rs` does for
//! SQLite: with 100,000 jobs in the table, statistics taken while it was empty (the trap a peer
//! fell into) and then fresh ones, and generic plans forced (what a prepared statement gets after five runs),
//! no hot statement may scan the backlog.
use tokio_postgres::NoTls;

use super::claim::{CLAIM_SQL, LANES_SQL};
use super::complete::{COMPLETE_SUCCESSES_SQL, RENEW_SQL};
use super::maintenance::{PROMOTE_SQL, REAP_SQL};
use super::migrations;

fn pg_url() -> String {
    std::env::var("TAREA_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The generic plan of `sql` with its parameter types.
async fn plan(client: &tokio_postgres::Client, name: &str, types: &str, sql: &str, args: &str) -> String {
    client.batch_execute(&format!("PREPARE {name} ({types}) AS {sql}")).await.unwrap();
    let rows = client.query(&format!("EXPLAIN EXECUTE {name} ({args})"), &[]).await.unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_statements_stay_on_their_indexes_at_a_large_backlog() {
    let (mut client, connection) = tokio_postgres::connect(&pg_url(), NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is needed at {}: {e}", pg_url()));
    tokio::spawn(connection);
    let schema =
        format!("t_{}_plans_{}", std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_secs(), std::process::id());
    migrations::migrate(&mut client, &schema).await.unwrap();
    client
        .batch_execute(&format!(
            "SET search_path TO {schema}, public;
             ALTER TABLE jobs SET (autovacuum_enabled = off);
             ANALYZE jobs;
             INSERT INTO queues (tenant, name) VALUES ('t', 'q');
             INSERT INTO jobs (id, tenant, kind, queue, state, builtin, priority, max_attempts, payload,
                               retry_base_ms, retry_max_ms, created_at, run_at, locked_until, finished_at)
             SELECT uuid_v7(), 't', 'k', 'q', (ARRAY[1, 1, 1, 2, 3, 0])[1 + g % 6], g % 2 = 0, 0, 5, '{{}}',
                    1000, 600000, g, g, g, g
             FROM generate_series(1, 100000) AS g;
             SET plan_cache_mode = force_generic_plan;"
        ))
        .await
        .unwrap();
    let checks = [
        (
            "claim",
            "text[], text[], int[], bool, text[], bigint, text, bigint, bigint",
            CLAIM_SQL.as_str(),
            "'{t}', '{q}', '{10}', true, NULL, 10, 'w', 1, 1",
            "jobs_claim",
        ),
        ("lanes", "text, text[], bool", LANES_SQL, "'t', '{q}', true", "jobs_claim"),
        (
            "complete",
            "bigint, uuid[], int[], text[], text",
            COMPLETE_SUCCESSES_SQL.as_str(),
            "1, ARRAY[uuid_v7()], '{1}', '{NULL}', NULL",
            "jobs_pkey",
        ),
        ("renew", "uuid[], int[], bigint, text", RENEW_SQL, "ARRAY[uuid_v7()], '{1}', 1, NULL", "jobs_pkey"),
        ("promote", "bigint, bigint", PROMOTE_SQL.as_str(), "5, 10", "jobs_due"),
        ("reap", "bigint, bigint, int", REAP_SQL.as_str(), "5, 10, 3", "jobs_lease"),
    ];
    let mut failures = Vec::new();
    // First on statistics of the empty table, then on fresh ones: each has fooled a planner.
    for stats in ["stale", "fresh"] {
        if stats == "fresh" {
            client.batch_execute("ANALYZE jobs").await.unwrap();
        }
        for (name, types, sql, args, index) in checks {
            let plan = plan(&client, &format!("{name}_{stats}"), types, sql, args).await;
            if !plan.contains(index) || plan.contains("Seq Scan on jobs") {
                failures.push(format!("{name} ({stats} statistics) should use {index} and never scan jobs:\n{plan}"));
            }
        }
    }
    let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
