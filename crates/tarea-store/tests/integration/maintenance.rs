use super::*;

store_test!(expired_lease_runs_again_with_the_next_attempt, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    assert_eq!(s.lease_reap_expired(NOW + 29_999).await.unwrap(), 0);
    assert_eq!(s.lease_reap_expired(NOW + 30_001).await.unwrap(), 1);
    let j = s.job_get(None, job.id).await.unwrap().unwrap();
    assert_eq!((j.state, j.attempt), (JobState::Queued, 1));
    assert_eq!(j.error.unwrap().code, "lease_expired");
    assert_eq!(claim_one(&s, "q", NOW + 30_002).await.attempt, 2);
});

store_test!(poison_pill_is_parked_after_three_lost_leases, |s: S| async move {
    let mut sp = spec("x", "q");
    sp.max_attempts = Some(10);
    enqueue_one(&s, sp, NOW).await;
    let mut now = NOW;
    let mut id = None;
    for round in 1..=3 {
        let job = claim_one(&s, "q", now).await;
        id = Some(job.id);
        now += 31_000;
        s.lease_reap_expired(now).await.unwrap();
        let j = s.job_get(None, job.id).await.unwrap().unwrap();
        if round < 3 {
            assert_eq!(j.state, JobState::Queued);
        } else {
            assert_eq!(j.state, JobState::Dead);
            assert_eq!(j.error.unwrap().code, "worker_lost");
        }
    }
    assert!(s.job_claim(claim_params(&["q"], 1, now)).await.unwrap().is_empty());
    assert_eq!(state_of(&s, id.unwrap()).await, JobState::Dead);
});

store_test!(a_normal_end_resets_the_lost_lease_count, |s: S| async move {
    let mut sp = spec("x", "q");
    sp.max_attempts = Some(10);
    enqueue_one(&s, sp, NOW).await;
    let mut now = NOW;
    for _ in 0..2 {
        claim_one(&s, "q", now).await;
        now += 31_000;
        s.lease_reap_expired(now).await.unwrap();
    }
    let job = claim_one(&s, "q", now).await;
    s.job_complete_if_attempt(done(job.id, job.attempt, failed(true), now)).await.unwrap();
    s.job_promote_due(now + 1_000_000).await.unwrap();
    claim_one(&s, "q", now + 1_000_000).await;
    s.lease_reap_expired(now + 1_100_000).await.unwrap();
    assert_eq!(state_of(&s, job.id).await, JobState::Queued, "only consecutive lost leases count");
});

store_test!(lease_expiry_on_the_last_attempt_is_dead, |s: S| async move {
    let mut sp = spec("x", "q");
    sp.max_attempts = Some(1);
    let job = enqueue_one(&s, sp, NOW).await;
    claim_one(&s, "q", NOW).await;
    s.lease_reap_expired(NOW + 31_000).await.unwrap();
    assert_eq!(state_of(&s, job.id).await, JobState::Dead);
});

store_test!(retention_deletes_old_finished_jobs_only, |s: S| async move {
    s.queue_update(T, "short", QueueSettings { retention_succeeded_s: Some(10), ..Default::default() }).await.unwrap();
    let mut finished = Vec::new();
    for q in ["q", "short"] {
        enqueue_one(&s, spec("x", q), NOW).await;
        let job = claim_one(&s, q, NOW).await;
        s.job_complete_if_attempt(done(job.id, 1, succeeded(), NOW)).await.unwrap();
        finished.push(job.id);
    }
    let waiting = enqueue_one(&s, spec("x", "q"), NOW).await;
    let defaults = Retention { succeeded_ms: 60_000, dead_ms: 120_000 };
    assert_eq!(s.job_delete_expired(NOW + 5_000, defaults, 100).await.unwrap(), 0);
    assert_eq!(s.job_delete_expired(NOW + 11_000, defaults, 100).await.unwrap(), 1, "the queue's own retention wins");
    assert!(s.job_get(None, finished[1]).await.unwrap().is_none());
    assert_eq!(s.job_delete_expired(NOW + 61_000, defaults, 100).await.unwrap(), 1);
    assert!(s.job_get(None, finished[0]).await.unwrap().is_none());
    assert_eq!(state_of(&s, waiting.id).await, JobState::Queued, "unfinished jobs are never deleted");
    let q = s.queue_list(Some(T)).await.unwrap();
    assert!(q.iter().all(|q| q.counts.succeeded == 0));
});

store_test!(a_queue_keeping_jobs_longer_never_blocks_cleaning, |s: S| async move {
    s.queue_update(T, "long", QueueSettings { retention_succeeded_s: Some(3600), ..Default::default() }).await.unwrap();
    for q in ["long", "long", "long", "q"] {
        enqueue_one(&s, spec("x", q), NOW).await;
        let job = claim_one(&s, q, NOW).await;
        s.job_complete_if_attempt(done(job.id, 1, succeeded(), NOW)).await.unwrap();
    }
    let defaults = Retention { succeeded_ms: 1_000, dead_ms: 1_000 };
    assert_eq!(
        s.job_delete_expired(NOW + 2_000, defaults, 2).await.unwrap(),
        1,
        "the default queue is cleaned despite older long-kept jobs"
    );
    assert_eq!(s.job_delete_expired(NOW + 2_000, defaults, 2).await.unwrap(), 0);
    assert_eq!(s.job_delete_expired(NOW + 3_601_000, defaults, 2).await.unwrap(), 2, "the limit holds");
    assert_eq!(s.job_delete_expired(NOW + 3_601_000, defaults, 2).await.unwrap(), 1);
});
