use super::*;

store_test!(enqueue_then_get_returns_the_same_job, |s: S| async move {
    let mut sp = spec("pdf.render", "docs");
    sp.priority = 7;
    sp.tags = vec!["informe".into()];
    sp.payload = raw(serde_json::json!({"protocolo": "HP 24/123", "ñ": "áé"}));
    let job = enqueue_one(&s, sp, NOW).await;
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempt, 0);
    assert_eq!(job.max_attempts, limits::DEFAULT_MAX_ATTEMPTS);
    let got = s.job_get(Some(T), job.id).await.unwrap().unwrap();
    assert_eq!(got.kind, "pdf.render");
    assert_eq!(got.queue, "docs");
    assert_eq!(got.priority, 7);
    assert_eq!(got.tags, vec!["informe".to_string()]);
    let payload: serde_json::Value = serde_json::from_str(got.payload.get()).unwrap();
    assert_eq!(payload["ñ"], "áé");
    assert_eq!(got.created_at, NOW);
    assert_eq!(got.run_at, NOW);
});

store_test!(another_tenant_cannot_see_a_job, |s: S| async move {
    let job = enqueue_one(&s, spec("x", "q"), NOW).await;
    assert!(s.job_get(Some("other"), job.id).await.unwrap().is_none());
    assert!(matches!(s.job_cancel("other", job.id, NOW).await, Err(StoreError::NotFound)));
    assert!(matches!(s.job_retry("other", job.id, NOW).await, Err(StoreError::NotFound)));
    let page = s.job_list("other", JobFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert!(page.jobs.is_empty());
    let mut p = claim_params(&["q"], 10, NOW);
    p.tenant = Some("other".into());
    assert!(s.job_claim(p).await.unwrap().is_empty());
});

store_test!(future_run_at_makes_a_scheduled_job, |s: S| async move {
    let mut sp = spec("x", "q");
    sp.run_at = Some(NOW + 60_000);
    let job = enqueue_one(&s, sp, NOW).await;
    assert_eq!(job.state, JobState::Scheduled);
    assert!(s.job_claim(claim_params(&["q"], 10, NOW + 120_000)).await.unwrap().is_empty());
    let (moved, next) = s.job_promote_due(NOW + 59_999).await.unwrap();
    assert_eq!((moved, next), (0, Some(NOW + 60_000)));
    let (moved, next) = s.job_promote_due(NOW + 60_000).await.unwrap();
    assert_eq!((moved, next), (1, None));
    assert_eq!(claim_one(&s, "q", NOW + 60_001).await.id, job.id);
});

store_test!(idempotency_key_returns_the_existing_job, |s: S| async move {
    let mut sp = spec("x", "q");
    sp.idempotency_key = Some("informe-123".into());
    let first = s.job_enqueue(T, vec![sp.clone()], NOW).await.unwrap().pop().unwrap();
    let again = s.job_enqueue(T, vec![sp.clone()], NOW + 5).await.unwrap().pop().unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.job.id, again.job.id);
    let other_tenant = s.job_enqueue("other", vec![sp], NOW).await.unwrap().pop().unwrap();
    assert!(other_tenant.created);
    let page = s.job_list(T, JobFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(page.jobs.len(), 1);
});

store_test!(a_batch_is_all_or_nothing, |s: S| async move {
    s.queue_update(T, "small", QueueSettings { max_depth: Some(2), ..Default::default() }).await.unwrap();
    let specs = vec![spec("x", "big"), spec("x", "small"), spec("x", "small"), spec("x", "small")];
    let err = s.job_enqueue(T, specs, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::QueueFull { max_depth: 2, .. }), "{err}");
    let page = s.job_list(T, JobFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert!(page.jobs.is_empty(), "nothing of a refused batch is written");
    let counts = s.queue_list(Some(T)).await.unwrap();
    assert!(counts.iter().all(|q| q.counts.queued == 0));
});

store_test!(queue_full_counts_waiting_jobs_only, |s: S| async move {
    s.queue_update(T, "q", QueueSettings { max_depth: Some(2), ..Default::default() }).await.unwrap();
    enqueue_one(&s, spec("x", "q"), NOW).await;
    enqueue_one(&s, spec("x", "q"), NOW).await;
    assert!(matches!(s.job_enqueue(T, vec![spec("x", "q")], NOW).await, Err(StoreError::QueueFull { .. })));
    let job = claim_one(&s, "q", NOW).await;
    s.job_complete_if_attempt(done(job.id, 1, succeeded(), NOW)).await.unwrap();
    enqueue_one(&s, spec("x", "q"), NOW).await;
});

store_test!(list_is_newest_first_with_cursor_and_filters, |s: S| async move {
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut sp = spec(if i % 2 == 0 { "a" } else { "b" }, "q");
        if i == 3 {
            sp.tags = vec!["urgente".into()];
        }
        ids.push(enqueue_one(&s, sp, NOW + i).await.id);
    }
    let p1 = s.job_list(T, JobFilter { limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(p1.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![ids[4], ids[3]]);
    let p2 = s.job_list(T, JobFilter { limit: 2, cursor: p1.next_cursor, ..Default::default() }).await.unwrap();
    assert_eq!(p2.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![ids[2], ids[1]]);
    let p3 = s.job_list(T, JobFilter { limit: 2, cursor: p2.next_cursor, ..Default::default() }).await.unwrap();
    assert_eq!(p3.jobs.len(), 1);
    assert!(p3.next_cursor.is_none());
    let kind_a = s.job_list(T, JobFilter { limit: 10, kind: Some("a".into()), ..Default::default() }).await.unwrap();
    assert_eq!(kind_a.jobs.len(), 3);
    let tagged =
        s.job_list(T, JobFilter { limit: 10, tag: Some("urgente".into()), ..Default::default() }).await.unwrap();
    assert_eq!(tagged.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![ids[3]]);
    let running =
        s.job_list(T, JobFilter { limit: 10, state: Some(JobState::Running), ..Default::default() }).await.unwrap();
    assert!(running.jobs.is_empty());
});

store_test!(api_keys_are_found_by_hash_only, |s: S| async move {
    assert_eq!(s.tenant_count().await.unwrap(), 0);
    let key = ApiKey { id: "key_1".into(), tenant: "lab".into(), admin: true, read_only: false, created_at: NOW };
    s.api_key_create(key.clone(), KeyHash([7; 32])).await.unwrap();
    assert_eq!(s.tenant_count().await.unwrap(), 1);
    assert_eq!(s.api_key_find(KeyHash([7; 32])).await.unwrap(), Some(key));
    assert_eq!(s.api_key_find(KeyHash([8; 32])).await.unwrap(), None);
    let dup = ApiKey { id: "key_2".into(), tenant: "lab".into(), admin: false, read_only: true, created_at: NOW };
    assert!(matches!(s.api_key_create(dup, KeyHash([7; 32])).await, Err(StoreError::Conflict(_))));
    s.tenant_ensure("clinica-norte", NOW).await.unwrap();
    assert_eq!(s.tenant_list().await.unwrap(), ["clinica-norte", "lab"]);
});

store_test!(a_dashboard_session_lasts_until_it_ends_or_is_signed_out, |s: S| async move {
    let key = ApiKey { id: "key_ro".into(), tenant: "lab".into(), admin: false, read_only: true, created_at: NOW };
    s.api_key_create(key.clone(), KeyHash([3; 32])).await.unwrap();
    s.session_create(KeyHash([30; 32]), "key_ro", NOW, NOW + 1_000).await.unwrap();
    s.session_create(KeyHash([31; 32]), "key_ro", NOW, NOW + 5_000).await.unwrap();
    assert_eq!(s.session_find(KeyHash([30; 32]), NOW + 999).await.unwrap(), Some((key.clone(), NOW + 1_000)));
    assert_eq!(s.session_find(KeyHash([30; 32]), NOW + 1_000).await.unwrap(), None, "ended");
    assert_eq!(s.session_find(KeyHash([32; 32]), NOW).await.unwrap(), None, "never opened");
    // Opening another session sweeps the ended one away.
    s.session_create(KeyHash([33; 32]), "key_ro", NOW + 2_000, NOW + 9_000).await.unwrap();
    assert_eq!(s.session_find(KeyHash([30; 32]), NOW).await.unwrap(), None, "swept");
    assert!(s.session_delete(KeyHash([31; 32])).await.unwrap());
    assert!(!s.session_delete(KeyHash([31; 32])).await.unwrap(), "signed out once");
    assert_eq!(s.session_find(KeyHash([31; 32]), NOW).await.unwrap(), None);
    assert_eq!(s.session_find(KeyHash([33; 32]), NOW + 3_000).await.unwrap().map(|(k, _)| k.read_only), Some(true));
});

store_test!(keys_are_listed_without_secrets_and_deleted_with_their_sessions, |s: S| async move {
    let key = |id: &str, tenant: &str, at: i64| ApiKey {
        id: id.into(),
        tenant: tenant.into(),
        admin: false,
        read_only: false,
        created_at: NOW + at,
    };
    s.api_key_create(key("key_b", "lab", 1), KeyHash([1; 32])).await.unwrap();
    s.api_key_create(key("key_a", "tienda", 2), KeyHash([2; 32])).await.unwrap();
    s.api_key_create(key("key_c", "lab", 3), KeyHash([3; 32])).await.unwrap();
    let ids = |keys: Vec<ApiKey>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(ids(s.api_key_list(None).await.unwrap()), ["key_b", "key_a", "key_c"], "oldest first");
    assert_eq!(ids(s.api_key_list(Some("lab")).await.unwrap()), ["key_b", "key_c"]);
    s.session_create(KeyHash([40; 32]), "key_c", NOW, NOW + 5_000).await.unwrap();
    s.session_create(KeyHash([41; 32]), "key_b", NOW, NOW + 5_000).await.unwrap();

    assert!(s.api_key_delete("key_c").await.unwrap());
    assert!(!s.api_key_delete("key_c").await.unwrap(), "deleted once");
    assert_eq!(s.api_key_find(KeyHash([3; 32])).await.unwrap(), None);
    assert_eq!(s.session_find(KeyHash([40; 32]), NOW).await.unwrap(), None, "its session ended");
    assert!(s.session_find(KeyHash([41; 32]), NOW).await.unwrap().is_some(), "another key's session lasts");
    assert_eq!(ids(s.api_key_list(Some("lab")).await.unwrap()), ["key_b"]);
    assert_eq!(s.tenant_list().await.unwrap(), ["lab", "tienda"], "the tenant stays");
});

store_test!(the_audit_log_is_read_newest_first_by_tenant, |s: S| async move {
    for (i, tenant) in ["lab", "tienda", "lab"].into_iter().enumerate() {
        let entry = AuditEntry {
            id: 0,
            at: NOW + i as i64,
            tenant: tenant.into(),
            key_id: "key_1".into(),
            action: "POST /v1/jobs/{id}/retry".into(),
            target: format!("/v1/jobs/{i}/retry"),
            count: 1 + i as u64,
        };
        s.audit_append(entry).await.unwrap();
    }
    let all = s.audit_list(None, None, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.count).collect::<Vec<_>>(), [3, 2, 1]);
    let lab = s.audit_list(Some("lab"), None, 10).await.unwrap();
    assert_eq!(lab.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(), ["/v1/jobs/2/retry", "/v1/jobs/0/retry"]);
    let older = s.audit_list(None, Some(all[0].id), 1).await.unwrap();
    assert_eq!((older.len(), older[0].tenant.as_str(), older[0].at), (1, "tienda", NOW + 1));
});

store_test!(concurrent_enqueues_with_one_idempotency_key_make_one_job, |s: S| async move {
    // Eight callers (on a cluster, possibly on eight nodes) race with the same key: one job is
    // created and every caller gets it back; nobody gets an error.
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let mut sp = spec("x", "q");
                sp.idempotency_key = Some("informe-carrera".into());
                s.job_enqueue(T, vec![sp, spec("y", "q")], NOW).await.unwrap()
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for call in calls {
        let out = call.await.unwrap();
        created += usize::from(out[0].created);
        ids.insert(out[0].job.id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
});

store_test!(an_operator_deletes_finished_jobs_only, |s: S| async move {
    enqueue_one(&s, spec("x", "hecho"), NOW).await;
    let succeeded_job = claim_one(&s, "hecho", NOW + 1).await;
    s.job_complete_if_attempt(done(succeeded_job.id, 1, succeeded(), NOW + 2)).await.unwrap();
    let cancelled = enqueue_one(&s, spec("x", "anulado"), NOW + 3).await;
    s.job_cancel(T, cancelled.id, NOW + 4).await.unwrap();
    enqueue_one(&s, spec("x", "en-curso"), NOW + 5).await;
    let running = claim_one(&s, "en-curso", NOW + 6).await;
    let ids = [succeeded_job.id, cancelled.id, running.id];
    // Another tenant's delete touches nothing.
    assert_eq!(s.job_delete_finished("other", &ids).await.unwrap(), 0);
    // The running job stays; the succeeded and the cancelled one go.
    assert_eq!(s.job_delete_finished(T, &ids).await.unwrap(), 2);
    let left = s.job_list(T, JobFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(left.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [running.id]);
    let running_q = s.queue_list(Some(T)).await.unwrap().into_iter().find(|q| q.name == "en-curso").unwrap();
    assert_eq!(running_q.counts.running, 1, "counts follow");
});
