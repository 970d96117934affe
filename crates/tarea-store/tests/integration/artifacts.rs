//! Artifact metadata: the fenced insert, retention defaults, tenant scoping, download counts,
//! expiry, and the shared secret.
use super::*;

fn artifact(tenant: &str, job: Option<JobId>, now: i64) -> Artifact {
    Artifact {
        id: ArtifactId::new(),
        tenant: tenant.into(),
        job_id: job,
        kind: "upload".into(),
        filename: "informe.pdf".into(),
        content_type: "application/pdf".into(),
        size: 62_000,
        sha256: "ab".repeat(32),
        cache_key: Some("informe-123".into()),
        provenance: Some(serde_json::json!({"template": "lab-report", "version": 3})),
        created_at: now,
        expires_at: None,
        download_count: 0,
    }
}

store_test!(an_artifact_is_recorded_only_for_the_running_attempt, |s: S| async move {
    enqueue_one(&s, spec("pdf.render", "q"), NOW).await;
    let job = claim_one(&s, "q", NOW).await;
    let stale = s.artifact_insert(artifact(T, Some(job.id), NOW), Some(job.attempt + 1), None).await;
    assert!(matches!(stale, Err(StoreError::StaleAttempt { .. })), "{stale:?}");
    let other = s.artifact_insert(artifact("other", Some(job.id), NOW), Some(job.attempt), None).await;
    assert!(matches!(other, Err(StoreError::NotFound)), "another tenant's job: {other:?}");
    let a = s.artifact_insert(artifact(T, Some(job.id), NOW), Some(job.attempt), Some(1000)).await.unwrap();
    assert_eq!(a.kind, "pdf.render", "the job's kind");
    assert_eq!(a.expires_at, Some(NOW + 1000), "the server's default");
    let got = s.artifact_get(Some(T), a.id).await.unwrap().unwrap();
    assert_eq!(got, a);
    assert!(s.artifact_get(Some("other"), a.id).await.unwrap().is_none());
    assert_eq!(s.artifact_get(None, a.id).await.unwrap().unwrap().tenant, T);
    let listed = s.artifact_list_for_jobs(T, &[job.id, JobId::new()]).await.unwrap();
    assert_eq!(listed, vec![a.clone()]);
    assert!(s.artifact_list_for_jobs("other", &[job.id]).await.unwrap().is_empty());
    // Once the job is done, its attempt can record nothing more.
    let done = CompleteParams {
        tenant: None,
        id: job.id,
        attempt: job.attempt,
        outcome: Outcome::Succeeded { result: None },
        now: NOW + 5,
    };
    s.job_complete_if_attempt(done).await.unwrap();
    let late = s.artifact_insert(artifact(T, Some(job.id), NOW), Some(job.attempt), None).await;
    assert!(matches!(late, Err(StoreError::StaleAttempt { .. })), "{late:?}");
});

store_test!(retention_comes_from_the_kind_then_the_tenant_then_the_server, |s: S| async move {
    let none = s.artifact_insert(artifact(T, None, NOW), None, None).await.unwrap();
    assert_eq!(none.expires_at, None, "no retention anywhere: kept");
    let r = ArtifactRetention { default_ms: Some(50_000), kinds: [("upload".to_owned(), 7_000)].into() };
    s.artifact_retention_set(T, r.clone()).await.unwrap();
    assert_eq!(s.artifact_retention_get(T).await.unwrap(), r);
    assert_eq!(s.artifact_retention_get("other").await.unwrap(), ArtifactRetention::default());
    let by_kind = s.artifact_insert(artifact(T, None, NOW), None, Some(1)).await.unwrap();
    assert_eq!(by_kind.expires_at, Some(NOW + 7_000));
    let mut other_kind = artifact(T, None, NOW);
    other_kind.kind = "csv.export".into();
    assert_eq!(s.artifact_insert(other_kind, None, Some(1)).await.unwrap().expires_at, Some(NOW + 50_000));
    let mut explicit = artifact(T, None, NOW);
    explicit.expires_at = Some(NOW + 3);
    assert_eq!(s.artifact_insert(explicit, None, Some(1)).await.unwrap().expires_at, Some(NOW + 3));
    assert_eq!(s.artifact_insert(artifact("other", None, NOW), None, Some(9)).await.unwrap().expires_at, Some(NOW + 9));
    s.artifact_retention_set(T, ArtifactRetention::default()).await.unwrap();
    assert_eq!(s.artifact_retention_get(T).await.unwrap(), ArtifactRetention::default());
});

store_test!(expired_artifacts_are_listed_oldest_first_and_deleted, |s: S| async move {
    let mut ids = Vec::new();
    for (i, ttl) in [(0, 300), (1, 100), (2, 200)] {
        let mut a = artifact(T, None, NOW + i);
        a.expires_at = Some(NOW + ttl);
        ids.push(s.artifact_insert(a, None, None).await.unwrap().id);
    }
    s.artifact_insert(artifact(T, None, NOW), None, None).await.unwrap();
    assert!(s.artifact_expired(NOW + 99, 10).await.unwrap().is_empty());
    let due: Vec<ArtifactId> = s.artifact_expired(NOW + 250, 10).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(due, vec![ids[1], ids[2]]);
    assert_eq!(s.artifact_expired(NOW + 1000, 1).await.unwrap().len(), 1);
    assert_eq!(s.artifact_delete(&due).await.unwrap(), 2);
    assert_eq!(s.artifact_delete(&due).await.unwrap(), 0);
    assert!(s.artifact_get(Some(T), ids[1]).await.unwrap().is_none());
    assert!(s.artifact_get(Some(T), ids[0]).await.unwrap().is_some());
});

store_test!(a_tenants_artifacts_are_listed_newest_first_in_pages, |s: S| async move {
    let mut mine = Vec::new();
    for i in 0..5 {
        mine.push(s.artifact_insert(artifact(T, None, NOW + i), None, None).await.unwrap().id);
        s.artifact_insert(artifact("other", None, NOW + i), None, None).await.unwrap();
    }
    mine.reverse();
    let ids = |page: Vec<Artifact>| page.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let first = ids(s.artifact_list(T, None, 3).await.unwrap());
    assert_eq!(first, mine[..3]);
    let rest = ids(s.artifact_list(T, Some(first[2]), 3).await.unwrap());
    assert_eq!(rest, mine[3..]);
    assert!(s.artifact_list("nobody", None, 3).await.unwrap().is_empty());
    let one = s.artifact_list(T, None, 1).await.unwrap().remove(0);
    assert_eq!((one.tenant.as_str(), one.size, one.filename.as_str()), (T, 62_000, "informe.pdf"));
});

store_test!(downloads_are_counted, |s: S| async move {
    let a = s.artifact_insert(artifact(T, None, NOW), None, None).await.unwrap();
    for _ in 0..3 {
        s.artifact_downloaded(a.id).await.unwrap();
    }
    assert_eq!(s.artifact_get(Some(T), a.id).await.unwrap().unwrap().download_count, 3);
    s.artifact_downloaded(ArtifactId::new()).await.unwrap();
});

store_test!(the_first_secret_stored_wins, |s: S| async move {
    let first = s.secret_get_or_create("artifact-links", vec![1; 32]).await.unwrap();
    let second = s.secret_get_or_create("artifact-links", vec![2; 32]).await.unwrap();
    assert_eq!(first, vec![1; 32]);
    assert_eq!(second, first);
    assert_eq!(s.secret_get_or_create("other", vec![3]).await.unwrap(), vec![3]);
});

store_test!(a_cache_key_answers_with_the_job_that_made_a_live_artifact_or_is_still_running, |s: S| async move {
    let keyed = || {
        let mut sp = spec("pdf.render", "q");
        sp.cache_key = Some("orden-871|work-order@0".into());
        sp
    };
    // In flight: queued, then running.
    let first = s.job_enqueue(T, vec![keyed()], NOW).await.unwrap().pop().unwrap();
    assert!(first.created);
    let again = s.job_enqueue(T, vec![keyed(), keyed()], NOW + 1).await.unwrap();
    assert!(again.iter().all(|e| !e.created && e.job.id == first.job.id), "{again:?}");
    let job = claim_one(&s, "q", NOW + 2).await;
    assert_eq!(s.job_enqueue(T, vec![keyed()], NOW + 3).await.unwrap()[0].job.id, job.id, "running");
    // Another kind or tenant with the same key is someone else's.
    let mut other_kind = keyed();
    other_kind.kind = "label.render".into();
    assert!(s.job_enqueue(T, vec![other_kind], NOW).await.unwrap()[0].created);
    assert!(s.job_enqueue("other", vec![keyed()], NOW).await.unwrap()[0].created);

    // Done, with a live artifact: answered with that job.
    let mut a = artifact(T, Some(job.id), NOW);
    a.cache_key = None;
    s.artifact_insert(a, Some(job.attempt), Some(60_000)).await.unwrap();
    s.job_complete_if_attempt(done(job.id, job.attempt, succeeded(), NOW + 4)).await.unwrap();
    let hit = s.job_enqueue(T, vec![keyed()], NOW + 5).await.unwrap().pop().unwrap();
    assert!(!hit.created);
    assert_eq!(hit.job.id, job.id);
    assert_eq!(hit.job.state, JobState::Succeeded);

    // Once the artifact has expired, the key makes a new job.
    let fresh = s.job_enqueue(T, vec![keyed()], NOW + 60_001).await.unwrap().pop().unwrap();
    assert!(fresh.created, "an expired render is not reused");
});

store_test!(concurrent_enqueues_with_one_cache_key_make_one_job, |s: S| async move {
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let mut sp = spec("pdf.render", "q");
                sp.cache_key = Some("informe-carrera".into());
                s.job_enqueue(T, vec![sp], NOW).await.unwrap().pop().unwrap()
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for call in calls {
        let e = call.await.unwrap();
        created += usize::from(e.created);
        ids.insert(e.job.id);
    }
    assert_eq!((created, ids.len()), (1, 1));
});
