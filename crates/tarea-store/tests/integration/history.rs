use super::*;

store_test!(attempts_that_another_follows_are_kept_with_who_ran_them_and_why_they_ended, |s: S| async move {
    let mut sp = spec("x", "q");
    sp.retry = Some(RetryPolicy { base_ms: 1_000, max_ms: 1_000 });
    let job = enqueue_one(&s, sp, NOW).await;
    // 1: fails with a retry due.
    let a1 = claim_one(&s, "q", NOW).await;
    let f = s.job_complete_if_attempt(done(job.id, a1.attempt, failed(true), NOW + 100)).await.unwrap();
    s.job_promote_due(f.run_at).await.unwrap();
    // 2: its lease expires.
    claim_one(&s, "q", f.run_at).await;
    assert_eq!(s.lease_reap_expired(f.run_at + 31_000).await.unwrap(), 1);
    // 3: released on shutdown.
    let a3 = claim_one(&s, "q", f.run_at + 31_001).await;
    s.job_complete_if_attempt(done(job.id, a3.attempt, Outcome::Released, f.run_at + 31_050)).await.unwrap();
    // 4: succeeds; no history row for it, the job's row says it.
    let a4 = claim_one(&s, "q", f.run_at + 31_100).await;
    let fin = s.job_complete_if_attempt(done(job.id, a4.attempt, succeeded(), f.run_at + 31_400)).await.unwrap();

    let kept = s.job_attempts(Some(T), job.id).await.unwrap();
    let got: Vec<_> = kept.iter().map(|a| (a.attempt, a.state, a.error.as_ref().map(|e| e.code.as_str()))).collect();
    assert_eq!(
        got,
        vec![
            (1, JobState::Failed, Some("boom")),
            (2, JobState::Queued, Some("lease_expired")),
            (3, JobState::Queued, None)
        ]
    );
    assert!(kept.iter().all(|a| a.worker.as_deref() == Some("test")));
    assert_eq!((kept[0].started_at, kept[0].ended_at), (Some(NOW), Some(NOW + 100)));
    assert_eq!(kept[2].duration_ms(), Some(49));

    let all = attempts_of(&fin, kept);
    assert_eq!(all.len(), 4);
    assert_eq!((all[3].attempt, all[3].state, all[3].duration_ms()), (4, JobState::Succeeded, Some(300)));
    assert_eq!(all[3].worker.as_deref(), Some("test"), "the job row keeps who ran its last attempt");
    assert!(s.job_attempts(Some("other"), job.id).await.unwrap().is_empty(), "another tenant sees nothing");
});

store_test!(a_first_time_success_writes_no_history, |s: S| async move {
    let job = enqueue_one(&s, spec("x", "q"), NOW).await;
    let a = claim_one(&s, "q", NOW).await;
    let fin = s.job_complete_if_attempt(done(job.id, a.attempt, succeeded(), NOW + 5)).await.unwrap();
    assert!(s.job_attempts(None, job.id).await.unwrap().is_empty());
    let all = attempts_of(&fin, vec![]);
    assert_eq!((all.len(), all[0].state, all[0].ended_at), (1, JobState::Succeeded, Some(NOW + 5)));
});

store_test!(retrying_a_dead_job_keeps_its_last_attempt_and_deleting_the_job_drops_its_history, |s: S| async move {
    let job = enqueue_one(&s, spec("x", "q"), NOW).await;
    let a = claim_one(&s, "q", NOW).await;
    s.job_complete_if_attempt(done(job.id, a.attempt, failed(false), NOW + 10)).await.unwrap();
    let again = s.job_retry(T, job.id, NOW + 20).await.unwrap();
    assert_eq!(again.locked_by, None, "a job sent back to the queue has no worker");
    let kept = s.job_attempts(Some(T), job.id).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].state, kept[0].ended_at), (JobState::Dead, Some(NOW + 10)));
    assert_eq!(kept[0].error.as_ref().unwrap().code, "boom");
    assert_eq!(attempts_of(&again, kept).len(), 1, "the queued job has not run again yet");

    let b = claim_one(&s, "q", NOW + 30).await;
    s.job_complete_if_attempt(done(job.id, b.attempt, succeeded(), NOW + 40)).await.unwrap();
    assert_eq!(s.job_delete_finished(T, &[job.id]).await.unwrap(), 1);
    assert!(s.job_attempts(None, job.id).await.unwrap().is_empty());
});

store_test!(finished_work_is_counted_per_minute_once_the_minute_is_over, |s: S| async move {
    const M: i64 = 60_000;
    let t0 = NOW / M * M;
    // Minute 0: two succeed in q, one dies in r; minute 1: one fails with a retry due.
    for (queue, outcome, at) in
        [("q", succeeded(), t0 + 1_000), ("q", succeeded(), t0 + 59_999), ("r", failed(false), t0 + 30_000)]
    {
        let job = enqueue_one(&s, spec("x", queue), t0).await;
        let a = claim_one(&s, queue, t0).await;
        s.job_complete_if_attempt(done(job.id, a.attempt, outcome, at)).await.unwrap();
    }
    let job = enqueue_one(&s, spec("x", "q"), t0).await;
    let a = claim_one(&s, "q", t0).await;
    s.job_complete_if_attempt(done(job.id, a.attempt, failed(true), t0 + M + 5)).await.unwrap();
    // Another tenant's success in minute 0.
    let other = s.job_enqueue("other", vec![spec("x", "q")], t0).await.unwrap().pop().unwrap().job;
    let mut p = claim_params(&["q"], 1, t0);
    p.tenant = Some("other".into());
    let o = s.job_claim(p).await.unwrap().pop().unwrap();
    s.job_complete_if_attempt(done(other.id, o.attempt, succeeded(), t0 + 2_000)).await.unwrap();

    // Catch up to just after minute 0 closed (plus the grace): minute 1 is not counted yet.
    let now = t0 + M + STATS_GRACE_MS;
    while s.stats_rollup(now).await.unwrap() > 0 {}
    let acme = s.stats_series(Some(T), None, t0 - M, M).await.unwrap();
    assert_eq!(acme, vec![StatsBucket { at: t0, succeeded: 2, failed: 0, dead: 1, cancelled: 0 }]);
    let q = s.stats_series(Some(T), Some("q"), t0 - M, M).await.unwrap();
    assert_eq!(q, vec![StatsBucket { at: t0, succeeded: 2, ..Default::default() }]);
    let everyone = s.stats_series(None, None, t0 - M, M).await.unwrap();
    assert_eq!(everyone[0].succeeded, 3);

    // Counting again later adds minute 1 and never counts minute 0 twice.
    while s.stats_rollup(now + M).await.unwrap() > 0 {}
    let acme = s.stats_series(Some(T), None, t0 - M, M).await.unwrap();
    assert_eq!(acme.len(), 2);
    assert_eq!(acme[0].succeeded, 2);
    assert_eq!(acme[1], StatsBucket { at: t0 + M, failed: 1, ..Default::default() });
    // Hour buckets add the minutes up.
    let hours = s.stats_series(Some(T), None, t0 - 3_600_000, 3_600_000).await.unwrap();
    assert_eq!(
        hours.iter().map(|b| (b.succeeded, b.failed, b.dead)).fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2)),
        (2, 1, 1)
    );
});
