use super::*;

store_test!(stale_attempt_cannot_complete_job, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    // The lease runs out and the reaper gives the job back; a second worker claims attempt 2.
    assert_eq!(s.lease_reap_expired(NOW + 31_000).await.unwrap(), 1);
    let again = claim_one(&s, "q", NOW + 31_001).await;
    assert_eq!((again.id, again.attempt), (job.id, 2));
    let stale = s.job_complete_if_attempt(done(job.id, 1, succeeded(), NOW + 31_002)).await.unwrap_err();
    assert!(matches!(stale, StoreError::StaleAttempt { attempt: 1, current: 2, state: JobState::Running }), "{stale}");
    assert!(matches!(
        s.job_progress_if_attempt(None, job.id, 1, ProgressUpdate::default()).await,
        Err(StoreError::StaleAttempt { .. })
    ));
    assert_eq!(s.lease_renew_if_attempt(None, &[(job.id, 1)], 30_000, NOW).await.unwrap(), vec![false]);
    let fin = s.job_complete_if_attempt(done(job.id, 2, succeeded(), NOW + 31_003)).await.unwrap();
    assert_eq!(fin.state, JobState::Succeeded);
    assert_eq!(fin.finished_at, Some(NOW + 31_003));
    assert!(fin.locked_until.is_none(), "no lease is held");
    assert_eq!(fin.locked_by.as_deref(), Some("test"), "who ran the last attempt stays known");
    assert!(
        matches!(
            s.job_complete_if_attempt(done(job.id, 2, succeeded(), NOW)).await,
            Err(StoreError::StaleAttempt { .. })
        ),
        "a job is recorded finished once"
    );
});

store_test!(retryable_failure_backs_off_then_dies_when_attempts_run_out, |s: S| async move {
    let mut sp = spec("x", "q");
    sp.max_attempts = Some(2);
    sp.retry = Some(RetryPolicy { base_ms: 1_000, max_ms: 10_000 });
    enqueue_one(&s, sp, NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    let f = s.job_complete_if_attempt(done(job.id, 1, failed(true), NOW)).await.unwrap();
    assert_eq!(f.state, JobState::Failed);
    assert!((NOW + 500..=NOW + 1_000).contains(&f.run_at), "backoff within [base/2, base]: {}", f.run_at - NOW);
    assert_eq!(f.error.as_ref().unwrap().code, "boom");
    assert!(s.job_claim(claim_params(&["q"], 1, NOW + 400)).await.unwrap().is_empty());
    s.job_promote_due(f.run_at).await.unwrap();
    let job = claim_one(&s, "q", f.run_at).await;
    assert_eq!(job.attempt, 2);
    let d = s.job_complete_if_attempt(done(job.id, 2, failed(true), NOW + 2_000)).await.unwrap();
    assert_eq!(d.state, JobState::Dead);
});

store_test!(fatal_failure_is_dead_at_once, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    let d = s.job_complete_if_attempt(done(job.id, 1, failed(false), NOW)).await.unwrap();
    assert_eq!(d.state, JobState::Dead);
    assert_eq!(d.attempt, 1);
});

store_test!(release_does_not_burn_an_attempt, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    let r = s.job_complete_if_attempt(done(job.id, 1, Outcome::Released, NOW + 1)).await.unwrap();
    assert_eq!((r.state, r.attempt, r.attempts_left()), (JobState::Queued, 1, r.max_attempts));
    let again = claim_one(&s, "q", NOW + 2).await;
    assert_eq!((again.attempt, again.attempts_left()), (2, again.max_attempts - 1), "a new number, the same budget");
    assert!(matches!(
        s.job_complete_if_attempt(done(job.id, 1, succeeded(), NOW)).await,
        Err(StoreError::StaleAttempt { .. })
    ));
});

store_test!(progress_is_merged_and_fenced, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    let up =
        ProgressUpdate { step: Some("Generando PDF".into()), current: Some(1), total: Some(4), ..Default::default() };
    let j = s.job_progress_if_attempt(None, job.id, 1, up).await.unwrap();
    let p = j.progress.unwrap();
    assert_eq!((p.percent, p.step.as_deref()), (25.0, Some("Generando PDF")));
    let j = s
        .job_progress_if_attempt(Some(T), job.id, 1, ProgressUpdate { percent: Some(90.0), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(j.progress.as_ref().unwrap().step.as_deref(), Some("Generando PDF"));
    assert!(matches!(
        s.job_progress_if_attempt(Some("other"), job.id, 1, ProgressUpdate::default()).await,
        Err(StoreError::NotFound)
    ));
    let fin = s.job_complete_if_attempt(done(job.id, 1, succeeded(), NOW)).await.unwrap();
    assert_eq!(fin.progress.unwrap().percent, 100.0, "a finished job shows 100 %");
});

store_test!(renew_extends_the_lease_of_current_attempts_only, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    assert_eq!(s.lease_renew_if_attempt(Some(T), &[(job.id, 1)], 60_000, NOW + 20_000).await.unwrap(), vec![true]);
    assert_eq!(s.lease_reap_expired(NOW + 40_000).await.unwrap(), 0, "a renewed lease is not reaped");
    assert_eq!(s.lease_renew_if_attempt(Some("other"), &[(job.id, 1)], 60_000, NOW).await.unwrap(), vec![false]);
    assert_eq!(s.job_get(None, job.id).await.unwrap().unwrap().locked_until, Some(NOW + 80_000));
});

store_test!(cancel_moves_unfinished_jobs_and_refuses_finished_ones, |s: S| async move {
    let queued = enqueue_one(&s, spec("x", "q"), NOW).await;
    let c = s.job_cancel(T, queued.id, NOW).await.unwrap();
    assert_eq!(c.state, JobState::Cancelled);
    let err = s.job_cancel(T, queued.id, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::Illegal(IllegalTransition { from: JobState::Cancelled, .. })), "{err}");

    enqueue_one(&s, spec("x", "q"), NOW).await;
    let running = claim_one(&s, "q", NOW).await;
    s.job_cancel(T, running.id, NOW).await.unwrap();
    assert!(
        matches!(
            s.job_complete_if_attempt(done(running.id, 1, succeeded(), NOW)).await,
            Err(StoreError::StaleAttempt { .. })
        ),
        "the worker of a cancelled job records nothing"
    );
    assert_eq!(state_of(&s, running.id).await, JobState::Cancelled);
});

store_test!(retry_requeues_with_attempts_reset, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    assert!(matches!(s.job_retry(T, job.id, NOW).await, Err(StoreError::Illegal(_))), "a running job is not retried");
    s.job_complete_if_attempt(done(job.id, 1, failed(false), NOW)).await.unwrap();
    let r = s.job_retry(T, job.id, NOW + 10).await.unwrap();
    assert_eq!((r.state, r.attempts_left(), r.run_at), (JobState::Queued, r.max_attempts, NOW + 10));
    assert!(r.error.is_none());
    let again = claim_one(&s, "q", NOW + 11).await;
    assert_eq!(again.attempt, 2, "attempt numbers are never reused");
    s.job_complete_if_attempt(done(again.id, 2, succeeded(), NOW + 12)).await.unwrap();
    assert!(matches!(s.job_retry(T, job.id, NOW).await, Err(StoreError::Illegal(_))), "a succeeded job is not retried");
});

store_test!(batch_completion_applies_each_item_on_its_own, |s: S| async move {
    for _ in 0..3 {
        enqueue_one(&s, spec("x", "q"), NOW).await;
    }
    let jobs = s.job_claim(claim_params(&["q"], 3, NOW)).await.unwrap();
    let results = s
        .job_complete_many_if_attempt(vec![
            done(jobs[0].id, 1, succeeded(), NOW),
            done(jobs[1].id, 2, succeeded(), NOW),
            done(jobs[2].id, 1, failed(false), NOW),
            done(jobs[0].id, 1, succeeded(), NOW),
        ])
        .await
        .unwrap();
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(matches!(results[1], Err(StoreError::StaleAttempt { attempt: 2, current: 1, .. })));
    assert!(
        matches!(results[3], Err(StoreError::StaleAttempt { state: JobState::Succeeded, .. })),
        "a job is recorded finished once"
    );
    assert_eq!(state_of(&s, jobs[0].id).await, JobState::Succeeded);
    assert_eq!(state_of(&s, jobs[1].id).await, JobState::Running);
    assert_eq!(state_of(&s, jobs[2].id).await, JobState::Dead);
    let mut p = done(jobs[1].id, 1, succeeded(), NOW);
    p.tenant = Some("other".into());
    assert!(matches!(s.job_complete_if_attempt(p).await, Err(StoreError::NotFound)));
});

store_test!(batch_completion_is_scoped_to_the_tenant, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    let mut other = done(job.id, 1, succeeded(), NOW);
    other.tenant = Some("other".into());
    let mut mine = done(job.id, 1, succeeded(), NOW);
    mine.tenant = Some(T.into());
    let r = s.job_complete_many_if_attempt(vec![other]).await.unwrap();
    assert!(matches!(r[0], Err(StoreError::NotFound)), "{:?}", r[0]);
    assert_eq!(state_of(&s, job.id).await, JobState::Running);
    let r = s.job_complete_many_if_attempt(vec![mine]).await.unwrap();
    assert!(r[0].is_ok());
    assert_eq!(state_of(&s, job.id).await, JobState::Succeeded);
});

store_test!(a_worker_of_a_cancelled_then_retried_job_stays_fenced_out, |s: S| async move {
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let old = claim_one(&s, "q", NOW).await;
    s.job_cancel(T, old.id, NOW).await.unwrap();
    s.job_retry(T, old.id, NOW).await.unwrap();
    let new = claim_one(&s, "q", NOW).await;
    assert_ne!(new.attempt, old.attempt);
    let stale = s.job_complete_if_attempt(done(old.id, old.attempt, succeeded(), NOW)).await;
    assert!(matches!(stale, Err(StoreError::StaleAttempt { .. })), "{stale:?}");
    s.job_complete_if_attempt(done(new.id, new.attempt, succeeded(), NOW)).await.unwrap();
});

store_test!(the_budget_counts_runs_since_the_last_retry, |s: S| async move {
    let mut sp = spec("x", "q");
    sp.max_attempts = Some(1);
    enqueue_one(&s, sp, NOW).await;
    let first = claim_one(&s, "q", NOW).await;
    let dead = s.job_complete_if_attempt(done(first.id, 1, failed(true), NOW)).await.unwrap();
    assert_eq!(dead.state, JobState::Dead);
    s.job_retry(T, first.id, NOW).await.unwrap();
    let second = claim_one(&s, "q", NOW).await;
    let f = s.job_complete_if_attempt(done(second.id, second.attempt, failed(true), NOW)).await.unwrap();
    assert_eq!(f.state, JobState::Dead, "one attempt per retry");
    s.job_retry(T, first.id, NOW).await.unwrap();
    let third = claim_one(&s, "q", NOW).await;
    s.lease_reap_expired(NOW + 31_000).await.unwrap();
    assert_eq!(state_of(&s, third.id).await, JobState::Dead, "the reaper counts the same budget");
});

store_test!(an_error_holding_a_nul_character_is_stored, |s: S| async move {
    // A worker's message may hold any character; PostgreSQL's jsonb refuses NUL, SQLite takes it.
    enqueue_one(&s, spec("x", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    let error = JobError::new("bad\u{0}code", "line one\u{0}line two");
    let outcome = Outcome::Failed { error, retryable: false };
    let done = s.job_complete_if_attempt(super::done(job.id, job.attempt, outcome, NOW)).await.unwrap();
    assert_eq!(done.state, JobState::Dead);
    assert!(done.error.unwrap().message.starts_with("line one"));
});
