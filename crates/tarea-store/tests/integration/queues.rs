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
