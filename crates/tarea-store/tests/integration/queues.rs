use super::*;

store_test!(queue_counts_follow_every_transition, |s: S| async move {
    let mut later = spec("x", "q");
    later.run_at = Some(NOW + 1_000);
    enqueue_one(&s, later, NOW).await;
    for _ in 0..3 {
        enqueue_one(&s, spec("x", "q"), NOW).await;
    }
    let a = claim_one(&s, "q", NOW).await;
    let b = claim_one(&s, "q", NOW).await;
    s.job_complete_if_attempt(done(a.id, 1, succeeded(), NOW)).await.unwrap();
    s.job_complete_if_attempt(done(b.id, 1, failed(false), NOW)).await.unwrap();
    let q = s.queue_list(Some(T)).await.unwrap().pop().unwrap();
    assert_eq!(q.name, "q");
    let c = q.counts;
    assert_eq!((c.scheduled, c.queued, c.running, c.succeeded, c.dead), (1, 1, 0, 1, 1));
    assert_eq!(q.oldest_queued_at, Some(NOW));
    assert!(s.queue_list(Some("other")).await.unwrap().is_empty());
});

store_test!(queue_settings_replace_and_create_on_first_use, |s: S| async move {
    let settings = QueueSettings {
        concurrency: Some(3),
        rate_limit: Some(5.0),
        max_depth: Some(100),
        max_attempts: Some(2),
        ..Default::default()
    };
    let q = s.queue_update(T, "mail", settings.clone()).await.unwrap();
    assert_eq!(q.settings, settings);
    let job = enqueue_one(&s, spec("x", "mail"), NOW).await;
    assert_eq!(job.max_attempts, 2, "jobs take the queue's default attempts");
    let q = s.queue_update(T, "mail", QueueSettings::default()).await.unwrap();
    assert_eq!(q.settings, QueueSettings::default());
    assert_eq!(q.counts.queued, 1);
});

store_test!(oldest_queued_looks_across_priorities_and_runners, |s: S| async move {
    let mut a = spec("x", "q");
    a.priority = 10;
    enqueue_one(&s, a, NOW + 50).await;
    let mut b = spec("tarea.noop", "q");
    b.builtin = true;
    b.priority = -3;
    enqueue_one(&s, b, NOW + 20).await;
    enqueue_one(&s, spec("x", "q"), NOW + 30).await;
    let q = s.queue_list(Some(T)).await.unwrap().pop().unwrap();
    assert_eq!(q.oldest_queued_at, Some(NOW + 20));
});

async fn counted(s: &S, queue: &str) -> [u64; 7] {
    let q = s.queue_list(Some(T)).await.unwrap().into_iter().find(|q| q.name == queue).unwrap().counts;
    [q.scheduled, q.queued, q.running, q.succeeded, q.failed, q.dead, q.cancelled]
}

async fn actual(s: &S) -> [u64; 7] {
    let mut n = [0u64; 7];
    for j in s.job_list(T, JobFilter { limit: 1000, ..Default::default() }).await.unwrap().jobs {
        n[j.state.code() as usize] += 1;
    }
    n
}

store_test!(queue_counts_match_the_jobs_after_every_kind_of_change, |s: S| async move {
    let mut now = NOW;
    let specs = (0..60)
        .map(|i| {
            let mut sp = spec("x", "q");
            sp.max_attempts = Some(2);
            sp.retry = Some(RetryPolicy { base_ms: 10, max_ms: 10 });
            if i % 5 == 0 {
                sp.run_at = Some(NOW + 1_000);
            }
            sp
        })
        .collect();
    let jobs: Vec<Job> = s.job_enqueue(T, specs, now).await.unwrap().into_iter().map(|e| e.job).collect();
    assert_eq!(counted(&s, "q").await, actual(&s).await);
    for round in 0..4 {
        let claimed = s.job_claim(claim_params(&["q"], 12, now)).await.unwrap();
        let mut batch = Vec::new();
        for (i, j) in claimed.iter().enumerate() {
            let outcome = match i % 4 {
                0 => succeeded(),
                1 => failed(true),
                2 => failed(false),
                _ => continue,
            };
            batch.push(done(j.id, j.attempt, outcome, now));
        }
        s.job_complete_many_if_attempt(batch).await.unwrap();
        let _ = s.job_cancel(T, jobs[round * 7].id, now).await;
        let _ = s.job_retry(T, jobs[round * 7 + 2].id, now).await;
        now += 31_000;
        s.lease_reap_expired(now).await.unwrap();
        s.job_promote_due(now).await.unwrap();
        assert_eq!(counted(&s, "q").await, actual(&s).await, "round {round}");
    }
    s.job_delete_expired(now + 1, Retention { succeeded_ms: 0, dead_ms: 0 }, 1000).await.unwrap();
    assert_eq!(counted(&s, "q").await, actual(&s).await);
    let refused = s.job_enqueue(T, vec![spec("x", "q")], now);
    s.queue_update(T, "q", QueueSettings { max_depth: Some(1), ..Default::default() }).await.unwrap();
    let _ = refused.await;
    let before = counted(&s, "q").await;
    assert!(s.job_enqueue(T, vec![spec("x", "q"); 3], now).await.is_err());
    assert_eq!(counted(&s, "q").await, before, "a refused enqueue leaves the counts alone");
    assert_eq!(before, actual(&s).await);
});
