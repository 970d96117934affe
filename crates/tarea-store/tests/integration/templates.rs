//! Tenants' templates: every upload a new version, numbers never reused, tenants apart.
use super::*;

store_test!(template_uploads_are_versions_and_numbers_are_never_reused, |s: S| async move {
    let v1 = s.template_put(T, "informe", "= Informe", b"[]", NOW).await.unwrap();
    let v2 = s.template_put(T, "informe", "= Informe v2", b"[{}]", NOW + 1).await.unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    let latest = s.template_get(T, "informe", None).await.unwrap().unwrap();
    assert_eq!(latest, v2);
    assert_eq!(s.template_get(T, "informe", Some(1)).await.unwrap().unwrap(), v1);
    assert!(s.template_get(T, "informe", Some(3)).await.unwrap().is_none());
    assert!(s.template_get("other", "informe", None).await.unwrap().is_none(), "another tenant's");
    assert_eq!(s.template_put("other", "informe", "x", b"[]", NOW).await.unwrap().version, 1);
    s.template_put(T, "etiqueta", "x", b"[]", NOW + 2).await.unwrap();
    let list = s.template_list(T).await.unwrap();
    assert_eq!(
        list,
        vec![
            TemplateSummary { name: "etiqueta".into(), latest: 1, versions: 1, updated_at: NOW + 2 },
            TemplateSummary { name: "informe".into(), latest: 2, versions: 2, updated_at: NOW + 1 },
        ]
    );
    // Deleted: gone from reads, and the next upload is version 3, not 1 again (cache keys
    // name versions).
    assert_eq!(s.template_delete(T, "informe", NOW + 3).await.unwrap(), 2);
    assert!(s.template_get(T, "informe", None).await.unwrap().is_none());
    assert!(s.template_get(T, "informe", Some(1)).await.unwrap().is_none());
    assert_eq!(s.template_list(T).await.unwrap().len(), 1);
    assert_eq!(s.template_put(T, "informe", "= Otra", b"[]", NOW + 4).await.unwrap().version, 3);
    assert_eq!(s.template_delete(T, "nada", NOW).await.unwrap(), 0);
});

store_test!(concurrent_uploads_of_one_template_get_distinct_versions, |s: S| async move {
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(
                async move { s.template_put(T, "carrera", &format!("= {i}"), b"[]", NOW).await.unwrap().version },
            )
        })
        .collect();
    let mut versions = Vec::new();
    for c in calls {
        versions.push(c.await.unwrap());
    }
    versions.sort();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6]);
});

store_test!(the_latest_version_and_the_jobs_an_older_version_rendered, |s: S| async move {
    assert_eq!(s.template_latest(T, "informe").await.unwrap(), None);
    s.template_put(T, "informe", "= v1", b"", NOW).await.unwrap();
    s.template_put(T, "informe", "= v2", b"", NOW).await.unwrap();
    assert_eq!(s.template_latest(T, "informe").await.unwrap(), Some(2));
    assert_eq!(s.template_latest("other", "informe").await.unwrap(), None);

    // Four documents: at version 1 (stale), at version 2 (current), at version 1 but expiring
    // soon, and from another template.
    let mut jobs = Vec::new();
    for (template, version, expires) in
        [("informe", 1, None), ("informe", 2, None), ("informe", 1, Some(NOW + 10)), ("otro", 1, None)]
    {
        enqueue_one(&s, spec("pdf.render", "q"), NOW).await;
        let job = claim_one(&s, "q", NOW).await;
        let a = Artifact {
            id: ArtifactId::new(),
            tenant: T.into(),
            job_id: Some(job.id),
            kind: "pdf.render".into(),
            filename: "informe.pdf".into(),
            content_type: "application/pdf".into(),
            size: 1,
            sha256: "ab".repeat(32),
            cache_key: None,
            provenance: Some(serde_json::json!({"template": template, "version": version, "data_sha256": "cd"})),
            created_at: NOW,
            expires_at: expires,
            download_count: 0,
        };
        s.artifact_insert(a, Some(job.attempt), None).await.unwrap();
        jobs.push(job.id);
    }
    let stale = |now, after| {
        let s = Arc::clone(&s);
        async move {
            s.template_stale_jobs(T, "informe", 2, now, after, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|j| j.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(stale(NOW, None).await, vec![jobs[0], jobs[2]]);
    assert_eq!(stale(NOW + 20, None).await, vec![jobs[0]], "an expired artifact is not made again");
    assert_eq!(stale(NOW, Some(jobs[0])).await, vec![jobs[2]], "pages after a job id");
    assert!(s.template_stale_jobs("other", "informe", 2, NOW, None, 10).await.unwrap().is_empty());
    assert!(s.template_stale_jobs(T, "informe", 1, NOW, None, 10).await.unwrap().is_empty());
    s.template_delete(T, "informe", NOW).await.unwrap();
    assert_eq!(s.template_latest(T, "informe").await.unwrap(), None);
});
