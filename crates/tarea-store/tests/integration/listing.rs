use super::*;

fn ids(page: &JobPage) -> Vec<JobId> {
    page.jobs.iter().map(|j| j.id).collect()
}

fn with_payload(kind: &str, queue: &str, payload: serde_json::Value) -> JobSpec {
    JobSpec::new(kind, queue, raw(payload))
}

fn search(text: &str) -> JobFilter {
    JobFilter { search: Some(text.into()), limit: 10, ..Default::default() }
}

store_test!(search_finds_words_of_payload_result_and_error_newest_first, |s: S| async move {
    let a = enqueue_one(
        &s,
        with_payload("pdf.render", "q", serde_json::json!({"protocolo": "HP-2024-0153", "animal": "Firulais"})),
        NOW,
    )
    .await;
    let b = enqueue_one(
        &s,
        with_payload("pdf.render", "q", serde_json::json!({"protocolo": "HP-2024-0154", "veterinario": "Dra. García"})),
        NOW,
    )
    .await;
    let c = enqueue_one(&s, with_payload("mail.send", "r", serde_json::json!({"to": "lab@example.com"})), NOW).await;
    s.job_enqueue("other", vec![with_payload("pdf.render", "q", serde_json::json!({"animal": "Firulais"}))], NOW)
        .await
        .unwrap();

    assert_eq!(ids(&s.job_list(T, search("firulais")).await.unwrap()), vec![a.id], "another tenant's job is not found");
    assert_eq!(ids(&s.job_list(T, search("FIRU")).await.unwrap()), vec![a.id], "the last word may be a prefix");
    assert_eq!(ids(&s.job_list(T, search("garcia")).await.unwrap()), vec![b.id], "accents aside");
    assert_eq!(ids(&s.job_list(T, search("García")).await.unwrap()), vec![b.id]);
    assert_eq!(ids(&s.job_list(T, search("HP-2024-0153")).await.unwrap()), vec![a.id], "a protocol number, whole");
    assert_eq!(ids(&s.job_list(T, search("hp 2024")).await.unwrap()), vec![b.id, a.id], "newest first");
    assert!(s.job_list(T, search("2024 hp")).await.unwrap().jobs.is_empty(), "words in the order given");
    assert!(s.job_list(T, search("\" OR * NEAR(")).await.unwrap().jobs.is_empty(), "operators are plain text");

    // Search and filters together, and pages through the matches.
    let both = JobFilter { queue: Some("q".into()), ..search("hp") };
    assert_eq!(ids(&s.job_list(T, both).await.unwrap()), vec![b.id, a.id]);
    let p1 = s.job_list(T, JobFilter { limit: 1, ..search("2024") }).await.unwrap();
    assert_eq!(ids(&p1), vec![b.id]);
    let p2 = s.job_list(T, JobFilter { limit: 1, cursor: p1.next_cursor, ..search("2024") }).await.unwrap();
    assert_eq!((ids(&p2), p2.next_cursor), (vec![a.id], None));

    // What a job says when it ends is searchable too.
    let job = claim_one(&s, "r", NOW).await;
    assert_eq!(job.id, c.id);
    let fail = Outcome::Failed {
        error: JobError::new("smtp_refused", "el servidor rechazó el destinatario"),
        retryable: false,
    };
    s.job_complete_if_attempt(done(c.id, job.attempt, fail, NOW + 1)).await.unwrap();
    assert_eq!(ids(&s.job_list(T, search("rechazo el destinatario")).await.unwrap()), vec![c.id]);
    assert_eq!(ids(&s.job_list(T, search("smtp_refused")).await.unwrap()), vec![c.id]);
    let job = claim_one(&s, "q", NOW + 2).await;
    let result =
        Outcome::Succeeded { result: Some(raw(serde_json::json!({"paginas": 7, "archivo": "informe-final.pdf"}))) };
    s.job_complete_if_attempt(done(job.id, job.attempt, result, NOW + 3)).await.unwrap();
    assert_eq!(ids(&s.job_list(T, search("informe final")).await.unwrap()), vec![job.id]);

    // A deleted job is gone from search.
    s.job_delete_finished(T, &[c.id]).await.unwrap();
    assert!(s.job_list(T, search("destinatario")).await.unwrap().jobs.is_empty());
});

store_test!(listings_by_state_queue_and_kind_include_running_jobs, |s: S| async move {
    let mut made = Vec::new();
    for (kind, queue) in [("a", "q"), ("b", "q"), ("a", "r"), ("b", "r")] {
        made.push(enqueue_one(&s, spec(kind, queue), NOW).await.id);
    }
    let running = claim_one(&s, "q", NOW).await; // the oldest of q
    assert_eq!(running.id, made[0]);
    let list = |f: JobFilter| {
        let s = s.clone();
        async move { ids(&s.job_list(T, JobFilter { limit: 10, ..f }).await.unwrap()) }
    };
    assert_eq!(list(JobFilter::default()).await, vec![made[3], made[2], made[1], made[0]]);
    assert_eq!(list(JobFilter { queue: Some("q".into()), ..Default::default() }).await, vec![made[1], made[0]]);
    assert_eq!(list(JobFilter { kind: Some("a".into()), ..Default::default() }).await, vec![made[2], made[0]]);
    let q_running = JobFilter { queue: Some("q".into()), state: Some(JobState::Running), ..Default::default() };
    assert_eq!(list(q_running).await, vec![made[0]]);
    let q_queued = JobFilter { queue: Some("q".into()), state: Some(JobState::Queued), ..Default::default() };
    assert_eq!(list(q_queued).await, vec![made[1]]);
    let r_dead = JobFilter { queue: Some("r".into()), state: Some(JobState::Dead), ..Default::default() };
    assert!(list(r_dead).await.is_empty());
    let unknown = JobFilter { queue: Some("nada".into()), state: Some(JobState::Queued), ..Default::default() };
    assert!(list(unknown).await.is_empty());
    // Pages across the running and the waiting jobs.
    let p1 = s.job_list(T, JobFilter { limit: 3, ..Default::default() }).await.unwrap();
    let p2 = s.job_list(T, JobFilter { limit: 3, cursor: p1.next_cursor, ..Default::default() }).await.unwrap();
    assert_eq!((ids(&p2), p2.next_cursor), (vec![made[0]], None));
});

store_test!(time_filters_and_every_tenant, |s: S| async move {
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let old = enqueue_one(&s, spec("x", "q"), NOW).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cut = now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let new = enqueue_one(&s, spec("x", "q"), NOW).await;
    let theirs = s.job_enqueue("other", vec![spec("x", "q")], NOW).await.unwrap().pop().unwrap().job;

    let after = JobFilter { created_after: Some(cut), limit: 10, ..Default::default() };
    assert_eq!(ids(&s.job_list(T, after).await.unwrap()), vec![new.id]);
    let before = JobFilter { created_before: Some(cut), limit: 10, ..Default::default() };
    assert_eq!(ids(&s.job_list(T, before).await.unwrap()), vec![old.id]);
    let all = JobFilter { all_tenants: true, limit: 10, ..Default::default() };
    assert_eq!(ids(&s.job_list(T, all).await.unwrap()), vec![theirs.id, new.id, old.id]);
    let all_new = JobFilter {
        all_tenants: true,
        created_after: Some(cut),
        kind: Some("x".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(ids(&s.job_list("ignored", all_new).await.unwrap()), vec![theirs.id, new.id]);
});

/// On PostgreSQL a word that the newest jobs lack is looked for in ranges of ids taken from the
/// statistics, newest first: the pages found that way are the ones found without statistics,
/// in the same order, also with a cursor, a queue and a time bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_search_by_ranges_of_ids_finds_the_same_newest_matches() {
    let t = tarea_testkit::TestStore::postgres().await;
    let s = Arc::clone(&t.store);
    // Words of 110,000 older jobs (their rows are not needed to search), so the 8,000 jobs
    // below are the newest 7 % and the ranges (the newest 5 %, then 30 %) cut through them.
    let filler = "INSERT INTO job_text SELECT uuid_v7(), to_tsvector('simple', 'caniche') \
                  FROM generate_series(1, 110000)";
    t.schema.as_ref().unwrap().execute(filler).await.unwrap();
    // 8,000 jobs; "dálmata" in every 7th of the oldest 2,000 only, so the newest 5,000 (the
    // first step) hold none of them and the second range does.
    let mut matching = Vec::new();
    for chunk in 0..16 {
        let specs = (0..500)
            .map(|k| {
                let i = chunk * 500 + k;
                let animal = if i < 2000 && i % 7 == 0 { "Dálmata" } else { "Caniche" };
                let queue = if i % 2 == 0 { "docs" } else { "mail" };
                with_payload("informe.pdf", queue, serde_json::json!({"i": i, "animal": animal}))
            })
            .collect();
        for (k, e) in s.job_enqueue(T, specs, NOW).await.unwrap().into_iter().enumerate() {
            let i = chunk * 500 + k;
            if i < 2000 && i % 7 == 0 {
                matching.push((e.job.id, e.job.queue));
            }
        }
    }
    matching.reverse();
    let pages = |s: S| async move {
        let first = s.job_list(T, JobFilter { limit: 30, ..search("dalmata") }).await.unwrap();
        let cursor = first.next_cursor;
        let second = s.job_list(T, JobFilter { limit: 30, cursor, ..search("dalmata") }).await.unwrap();
        let mail =
            s.job_list(T, JobFilter { limit: 30, queue: Some("mail".into()), ..search("dalmata") }).await.unwrap();
        (ids(&first), ids(&second), ids(&mail))
    };
    let expected = (
        matching.iter().take(30).map(|m| m.0).collect::<Vec<_>>(),
        matching.iter().skip(30).take(30).map(|m| m.0).collect::<Vec<_>>(),
        matching.iter().filter(|m| m.1 == "mail").take(30).map(|m| m.0).collect::<Vec<_>>(),
    );
    assert_eq!(pages(Arc::clone(&s)).await, expected, "without statistics");
    t.schema.as_ref().unwrap().execute("ANALYZE job_text").await.unwrap();
    assert_eq!(pages(Arc::clone(&s)).await, expected, "with the ranges the statistics give");
    let older = matching[40].0;
    let bounded = s.job_list(T, JobFilter { limit: 5, cursor: Some(older), ..search("dalmata") }).await.unwrap();
    assert_eq!(ids(&bounded), matching.iter().skip(41).take(5).map(|m| m.0).collect::<Vec<_>>());
}
