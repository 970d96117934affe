use super::*;

store_test!(claim_takes_highest_priority_then_oldest, |s: S| async move {
    let low = enqueue_one(&s, spec("x", "q"), NOW).await;
    let mut hi = spec("x", "q");
    hi.priority = 50;
    let high = enqueue_one(&s, hi, NOW + 10).await;
    let later = enqueue_one(&s, spec("x", "q"), NOW + 20).await;
    let order: Vec<JobId> =
        s.job_claim(claim_params(&["q"], 3, NOW + 30)).await.unwrap().iter().map(|j| j.id).collect();
    assert_eq!(order, vec![high.id, low.id, later.id]);
});

store_test!(claim_starts_an_attempt_with_a_lease, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW + 5).await;
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.attempt, 1);
    assert_eq!(job.locked_by.as_deref(), Some("test"));
    assert_eq!(job.locked_until, Some(NOW + 5 + 30_000));
    assert_eq!(job.started_at, Some(NOW + 5));
    assert!(
        s.job_claim(claim_params(&["q"], 1, NOW + 6)).await.unwrap().is_empty(),
        "a running job is not claimed twice"
    );
});

store_test!(claim_merges_queues_by_priority, |s: S| async move {
    let a = enqueue_one(&s, spec("x", "a"), NOW).await;
    let mut sb = spec("x", "b");
    sb.priority = 1;
    let b = enqueue_one(&s, sb, NOW + 1).await;
    enqueue_one(&s, spec("x", "c"), NOW).await;
    let got: Vec<JobId> =
        s.job_claim(claim_params(&["a", "b"], 5, NOW + 2)).await.unwrap().iter().map(|j| j.id).collect();
    assert_eq!(got, vec![b.id, a.id]);
    let all = s.job_claim(claim_params(&[], 5, NOW + 2)).await.unwrap();
    assert_eq!(all.len(), 1, "an empty queue list means every queue");
});

store_test!(queue_concurrency_holds_across_claims, |s: S| async move {
    s.queue_update(T, "q", QueueSettings { concurrency: Some(2), ..Default::default() }).await.unwrap();
    for _ in 0..5 {
        enqueue_one(&s, spec("x", "q"), NOW).await;
    }
    let first = s.job_claim(claim_params(&["q"], 10, NOW)).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(s.job_claim(claim_params(&["q"], 10, NOW)).await.unwrap().is_empty());
    s.job_complete_if_attempt(done(first[0].id, 1, succeeded(), NOW)).await.unwrap();
    assert_eq!(s.job_claim(claim_params(&["q"], 10, NOW)).await.unwrap().len(), 1);
});

store_test!(paused_queue_gives_no_work_until_resumed, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let q = s.queue_set_paused(T, "q", true).await.unwrap();
    assert!(q.paused);
    assert!(s.job_claim(claim_params(&["q"], 10, NOW)).await.unwrap().is_empty());
    s.queue_set_paused(T, "q", false).await.unwrap();
    assert_eq!(s.job_claim(claim_params(&["q"], 10, NOW)).await.unwrap().len(), 1);
});

store_test!(claim_filters_kinds_and_runner, |s: S| async move {
    let ext = enqueue_one(&s, spec("protocols.set_status", "q"), NOW).await;
    enqueue_one(&s, spec("other.kind", "q"), NOW).await;
    let mut b = spec("tarea.noop", "q");
    b.builtin = true;
    let builtin = enqueue_one(&s, b, NOW).await;
    let mut p = claim_params(&["q"], 10, NOW);
    p.kinds = Some(vec!["protocols.set_status".into()]);
    let got = s.job_claim(p).await.unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![ext.id]);
    let mut p = claim_params(&["q"], 10, NOW);
    p.kinds = Some(vec![]);
    assert!(s.job_claim(p).await.unwrap().is_empty());
    let mut p = claim_params(&["q"], 10, NOW);
    p.builtin = true;
    let got = s.job_claim(p).await.unwrap();
    assert_eq!(
        got.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![builtin.id],
        "external workers never get built-in kinds and vice versa"
    );
});

store_test!(rate_limit_spaces_out_claims, |s: S| async move {
    s.queue_update(T, "mail", QueueSettings { rate_limit: Some(2.0), ..Default::default() }).await.unwrap();
    for _ in 0..10 {
        enqueue_one(&s, spec("x", "mail"), NOW).await;
    }
    let first = s.job_claim(claim_params(&["mail"], 10, NOW)).await.unwrap().len();
    assert_eq!(first, 2, "a full bucket holds one second of jobs");
    assert_eq!(s.job_claim(claim_params(&["mail"], 10, NOW + 100)).await.unwrap().len(), 0);
    assert_eq!(s.job_claim(claim_params(&["mail"], 10, NOW + 600)).await.unwrap().len(), 1);
    assert_eq!(
        s.job_claim(claim_params(&["mail"], 10, NOW + 5_000)).await.unwrap().len(),
        2,
        "the bucket never holds more than its burst"
    );
});

store_test!(concurrent_claims_never_share_a_job, |s: S| async move {
    let specs = (0..200).map(|_| spec("x", "q")).collect();
    s.job_enqueue(T, specs, NOW).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s.job_claim(claim_params(&["q"], 7, NOW)).await.unwrap();
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (200, 200));
});

store_test!(a_queue_named_twice_is_served_once, |s: S| async move {
    for _ in 0..3 {
        enqueue_one(&s, spec("x", "a"), NOW).await;
    }
    enqueue_one(&s, spec("x", "b"), NOW).await;
    let got = s.job_claim(claim_params(&["a", "a", "b"], 10, NOW)).await.unwrap();
    assert_eq!(got.len(), 4);
    let q = s.queue_list(Some(T)).await.unwrap();
    assert!(q.iter().all(|q| q.counts.queued == 0 && q.counts.running as usize == if q.name == "a" { 3 } else { 1 }));
});

store_test!(one_tenants_backlog_does_not_hold_back_another_tenants_job, |s: S| async move {
    let backlog: Vec<JobSpec> = (0..300).map(|_| spec("informe", "default")).collect();
    s.job_enqueue("grande", backlog, NOW).await.unwrap();
    let mut urgent = spec("informe", "default");
    urgent.priority = 100;
    let urgent = s.job_enqueue("grande", vec![urgent], NOW).await.unwrap().pop().unwrap().job.id;
    let small =
        s.job_enqueue("chico", vec![spec("informe", "default")], NOW + 1_000).await.unwrap().pop().unwrap().job.id;
    let claimed = s.job_claim(claim_params(&["default"], 2, NOW + 2_000)).await.unwrap();
    let ids: Vec<JobId> = claimed.iter().map(|j| j.id).collect();
    assert!(ids.contains(&small), "the small tenant's only job is in the first claim");
    assert!(ids.contains(&urgent), "within a tenant, priority still comes first");
});

store_test!(a_worker_running_a_long_job_stays_listed_after_its_claims_stop, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW + 5).await;
    s.worker_seen(T, "test", &["q".to_owned()], 1_000, NOW + 5).await.unwrap();
    let names = |w: Vec<tarea_core::ExternalWorker>| w.into_iter().map(|w| w.name).collect::<Vec<_>>();
    // Past its own registration, inside the job's lease (30 s), which its heartbeats renew.
    let later = NOW + 10_000;
    s.worker_seen(T, "otro", &[], 1_000, later).await.unwrap();
    assert_eq!(names(s.worker_list(None, later).await.unwrap()), ["otro", "test"]);
    assert_eq!(names(s.worker_list(Some(T), later).await.unwrap()), ["otro", "test"]);
    // The lease runs out (the worker died): it is gone.
    let gone = job.locked_until.unwrap() + 1;
    assert!(s.worker_list(None, gone).await.unwrap().is_empty());
});
