//! Schedules: stored per tenant, fired once per tick, missed ticks by policy.
use super::*;

const MIN: i64 = 60_000;

fn nightly(name: &str) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        cron: "0 2 * * *".into(),
        timezone: "America/Argentina/Buenos_Aires".into(),
        job: spec("stats.nightly", "reports"),
        paused: false,
        missed: MissedPolicy::RunOnce,
    }
}

/// 02:00 in Buenos Aires on the day of NOW (2027-01-15), as ms.
fn two_am() -> i64 {
    parse_rfc3339_ms("2027-01-16T05:00:00Z").unwrap()
}

store_test!(schedules_are_stored_per_tenant_and_keep_an_unfired_tick, |s: S| async move {
    let (stored, created) = s.schedule_put(T, nightly("estadisticas"), NOW).await.unwrap();
    assert!(created);
    assert_eq!(stored.next_run_at, Some(two_am()));
    assert_eq!(stored.job.kind, "stats.nightly");
    assert_eq!(stored.runs, 0);
    assert!(s.schedule_get("other", "estadisticas").await.unwrap().is_none(), "another tenant's");
    // Stored again a moment after its tick, before it fired: the tick is kept.
    let mut again = nightly("estadisticas");
    again.job.priority = 5;
    let (stored, created) = s.schedule_put(T, again, two_am() + 300).await.unwrap();
    assert!(!created);
    assert_eq!(stored.next_run_at, Some(two_am()));
    assert_eq!(stored.job.priority, 5);
    // A new pattern starts from now.
    let mut hourly = nightly("estadisticas");
    hourly.cron = "0 * * * *".into();
    let (stored, _) = s.schedule_put(T, hourly, NOW).await.unwrap();
    assert_eq!(stored.next_run_at, Some(NOW + 60 * MIN));
    s.schedule_put(T, nightly("a-primero"), NOW).await.unwrap();
    let names: Vec<_> = s.schedule_list(T).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["a-primero", "estadisticas"]);
    assert!(s.schedule_delete(T, "a-primero").await.unwrap());
    assert!(!s.schedule_delete(T, "a-primero").await.unwrap());
    assert!(!s.schedule_delete("other", "estadisticas").await.unwrap());
    assert_eq!(s.schedule_list(T).await.unwrap().len(), 1);
});

store_test!(a_due_tick_makes_one_job_however_many_fire_at_once, |s: S| async move {
    s.schedule_put(T, nightly("estadisticas"), NOW).await.unwrap();
    let at = two_am() + 200;
    let nothing = s.schedule_fire_due(two_am() - 1, 100).await.unwrap();
    assert_eq!((nothing.jobs, nothing.next_due), (0, Some(two_am())));
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.schedule_fire_due(at, 100).await.unwrap().jobs })
        })
        .collect();
    let mut made = 0;
    for c in calls {
        made += c.await.unwrap();
    }
    assert_eq!(made, 1, "one job for one tick");
    let jobs = s
        .job_list(T, JobFilter { tag: Some("schedule:estadisticas".into()), limit: 10, ..Default::default() })
        .await
        .unwrap()
        .jobs;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!((job.kind.as_str(), job.queue.as_str(), job.state), ("stats.nightly", "reports", JobState::Queued));
    assert_eq!(job.run_at, two_am(), "the job is due at its tick");
    assert_eq!(job.idempotency_key.as_deref(), Some(schedule_job_key("estadisticas", two_am()).as_str()));
    let after = s.schedule_get(T, "estadisticas").await.unwrap().unwrap();
    assert_eq!(after.next_run_at, Some(two_am() + 24 * 60 * MIN));
    assert_eq!((after.last_run_at, after.last_job_id, after.runs), (Some(two_am()), Some(job.id), 1));
    assert_eq!(s.schedule_fire_due(at + 1, 100).await.unwrap().jobs, 0);
});

store_test!(missed_ticks_run_once_or_are_skipped_by_policy, |s: S| async move {
    s.schedule_put(T, nightly("una-vez"), NOW).await.unwrap();
    let mut skip = nightly("saltar");
    skip.missed = MissedPolicy::Skip;
    s.schedule_put(T, skip, NOW).await.unwrap();
    // Three days down: the run-once schedule makes one job, for the latest tick; the other none.
    let back = two_am() + 3 * 24 * 60 * MIN + 30 * MIN;
    let fired = s.schedule_fire_due(back, 100).await.unwrap();
    assert_eq!((fired.jobs, fired.skipped), (1, 1));
    let once = s.schedule_get(T, "una-vez").await.unwrap().unwrap();
    assert_eq!(once.last_run_at, Some(two_am() + 3 * 24 * 60 * MIN));
    let skipped = s.schedule_get(T, "saltar").await.unwrap().unwrap();
    assert_eq!((skipped.runs, skipped.last_run_at), (0, None));
    assert_eq!(skipped.next_run_at, Some(two_am() + 4 * 24 * 60 * MIN));
});

store_test!(a_paused_schedule_makes_no_job_and_resumes_without_catching_up, |s: S| async move {
    s.schedule_put(T, nightly("estadisticas"), NOW).await.unwrap();
    let paused = s.schedule_set_paused(T, "estadisticas", true, NOW).await.unwrap();
    assert!(paused.paused);
    assert_eq!(paused.next_run_at, None);
    assert_eq!(s.schedule_fire_due(two_am() + 1, 100).await.unwrap().jobs, 0);
    let later = two_am() + 2 * 24 * 60 * MIN + MIN;
    let resumed = s.schedule_set_paused(T, "estadisticas", false, later).await.unwrap();
    assert_eq!(resumed.next_run_at, Some(two_am() + 3 * 24 * 60 * MIN));
    assert!(matches!(s.schedule_set_paused(T, "nada", true, NOW).await, Err(StoreError::NotFound)));
    assert!(matches!(s.schedule_set_paused("other", "estadisticas", true, NOW).await, Err(StoreError::NotFound)));
});

store_test!(a_tick_whose_queue_is_full_makes_no_job_and_says_why, |s: S| async move {
    s.queue_update(T, "reports", QueueSettings { max_depth: Some(1), ..Default::default() }).await.unwrap();
    enqueue_one(&s, spec("other.kind", "reports"), NOW).await;
    s.schedule_put(T, nightly("estadisticas"), NOW).await.unwrap();
    let fired = s.schedule_fire_due(two_am() + 1, 100).await.unwrap();
    assert_eq!((fired.jobs, fired.skipped), (0, 1));
    let after = s.schedule_get(T, "estadisticas").await.unwrap().unwrap();
    assert!(after.last_error.as_deref().unwrap_or("").contains("full"), "{:?}", after.last_error);
    assert_eq!(after.next_run_at, Some(two_am() + 24 * 60 * MIN), "it moves on to its next tick");
});
