//! Batches and chains: items counted, follow-ups made once, cancel and retry as one.
use super::*;

fn payload_of(job: &Job) -> serde_json::Value {
    serde_json::from_str(job.payload.get()).unwrap()
}

fn callback() -> JobSpec {
    JobSpec::new("lote.listo", "avisos", raw(serde_json::json!({"aviso": "fin"})))
}

async fn run(s: &S, queue: &str, outcome: Outcome, now: i64) -> Job {
    let job = claim_one(s, queue, now).await;
    s.job_complete_if_attempt(done(job.id, job.attempt, outcome, now)).await.unwrap()
}

store_test!(a_batch_counts_its_items_and_makes_its_callback_once, |s: S| async move {
    let items = (0..3).map(|_| spec("estado.actualizar", "lote")).collect();
    let (batch, made) = s.batch_create(T, BatchId::new(), items, Some(callback()), NOW).await.unwrap();
    assert_eq!((batch.total, batch.counts.queued, batch.state()), (3, 3, BatchState::Running));
    assert_eq!(made.len(), 3);
    assert!(made.iter().all(|e| e.job.batch_id == Some(batch.id)));
    assert!(s.batch_get("other", batch.id).await.unwrap().is_none(), "another tenant's");
    let listed = s.job_list(T, JobFilter { batch: Some(batch.id), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed.jobs.len(), 3);

    run(&s, "lote", succeeded(), NOW + 1).await;
    run(&s, "lote", failed(false), NOW + 2).await;
    assert_eq!(s.job_follow_up(NOW + 3, 100).await.unwrap().batches, 0, "one item has not ended");
    let got = s.batch_get(T, batch.id).await.unwrap().unwrap();
    assert_eq!((got.finished(), got.counts.dead, got.counts.queued), (2, 1, 1));
    run(&s, "lote", succeeded(), NOW + 4).await;

    let calls: Vec<_> = (0..6)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.job_follow_up(NOW + 5, 100).await.unwrap().batches })
        })
        .collect();
    let mut finished = 0;
    for c in calls {
        finished += c.await.unwrap();
    }
    assert_eq!(finished, 1, "one callback for one batch");
    let got = s.batch_get(T, batch.id).await.unwrap().unwrap();
    assert_eq!(got.state(), BatchState::Failed);
    assert_eq!(got.finished_at, Some(NOW + 5));
    let cb = s.job_get(Some(T), got.callback_id.unwrap()).await.unwrap().unwrap();
    assert_eq!((cb.kind.as_str(), cb.queue.as_str(), cb.batch_id), ("lote.listo", "avisos", None));
    let p = payload_of(&cb);
    assert_eq!(p["aviso"], "fin");
    assert_eq!(p["batch"]["id"], serde_json::json!(batch.id));
    assert_eq!((p["batch"]["total"].as_u64(), p["batch"]["succeeded"].as_u64()), (Some(3), Some(2)));
    assert_eq!(p["batch"]["failed"], 1);
    assert_eq!(p["batch"]["failures"][0]["error"]["code"], "boom");
    assert_eq!(s.job_follow_up(NOW + 6, 100).await.unwrap(), FollowUps::default());
});

store_test!(a_tenants_batches_are_listed_newest_first_with_their_counts, |s: S| async move {
    let mut made = Vec::new();
    for n in 1..=3 {
        let items = (0..n).map(|_| spec("estado.actualizar", "lote")).collect();
        made.push(s.batch_create(T, BatchId::new(), items, None, NOW + n as i64).await.unwrap().0.id);
        s.batch_create("other", BatchId::new(), vec![spec("x", "otra")], None, NOW).await.unwrap();
    }
    run(&s, "lote", failed(false), NOW + 10).await;
    let page = s.batch_list(T, None, 2).await.unwrap();
    assert_eq!(page.iter().map(|b| b.id).collect::<Vec<_>>(), [made[2], made[1]]);
    assert_eq!(page[0].total, 3);
    let rest = s.batch_list(T, Some(page[1].id), 2).await.unwrap();
    assert_eq!(rest.iter().map(|b| b.id).collect::<Vec<_>>(), [made[0]]);
    let all = s.batch_list(T, None, 10).await.unwrap();
    let counted: u64 = all.iter().map(|b| b.counts.queued + b.counts.dead).sum();
    assert_eq!(counted, 6, "every item counted");
    assert_eq!(all.iter().map(|b| b.counts.dead).sum::<u64>(), 1);
    assert!(s.batch_list("nobody", None, 10).await.unwrap().is_empty());
});

store_test!(a_batch_is_cancelled_and_retried_as_one, |s: S| async move {
    let items = (0..4).map(|_| spec("estado.actualizar", "lote")).collect();
    let (batch, _) = s.batch_create(T, BatchId::new(), items, Some(callback()), NOW).await.unwrap();
    run(&s, "lote", succeeded(), NOW + 1).await;
    assert!(matches!(s.batch_cancel("other", batch.id, NOW).await, Err(StoreError::NotFound)));
    assert_eq!(s.batch_cancel(T, batch.id, NOW + 2).await.unwrap(), 3);
    assert_eq!(s.job_follow_up(NOW + 3, 100).await.unwrap().batches, 1);
    let got = s.batch_get(T, batch.id).await.unwrap().unwrap();
    assert_eq!((got.state(), got.counts.cancelled), (BatchState::Failed, 3));
    let first_callback = got.callback_id.unwrap();

    assert_eq!(s.batch_retry_failed(T, batch.id, NOW + 4).await.unwrap(), 3);
    let got = s.batch_get(T, batch.id).await.unwrap().unwrap();
    assert_eq!((got.state(), got.counts.queued, got.callback_id), (BatchState::Running, 3, None));
    for i in 0..3 {
        run(&s, "lote", succeeded(), NOW + 5 + i).await;
    }
    assert_eq!(s.job_follow_up(NOW + 10, 100).await.unwrap().batches, 1);
    let got = s.batch_get(T, batch.id).await.unwrap().unwrap();
    assert_eq!(got.state(), BatchState::Succeeded);
    assert_ne!(got.callback_id, Some(first_callback), "a second callback for the second ending");
    assert_eq!(s.batch_retry_failed(T, batch.id, NOW + 11).await.unwrap(), 0);
});

store_test!(a_chain_makes_its_next_job_with_the_parent_result_once, |s: S| async move {
    let mut parent = spec("pdf.render", "docs");
    let mut then = JobSpec::new("email.send", "mail", raw(serde_json::json!({"to": ["lab@example.com"]})));
    then.then = Some(Box::new(spec("protocolo.marcar", "app")));
    parent.then = Some(Box::new(then));
    let p = enqueue_one(&s, parent, NOW).await;
    let mut lost = spec("pdf.render", "docs");
    lost.then = Some(Box::new(spec("nunca", "app")));
    enqueue_one(&s, lost, NOW).await;

    let job = claim_one(&s, "docs", NOW + 1).await;
    assert_eq!(job.id, p.id);
    let result = Outcome::Succeeded { result: Some(raw(serde_json::json!({"pages": 4}))) };
    s.job_complete_if_attempt(done(job.id, job.attempt, result, NOW + 2)).await.unwrap();
    run(&s, "docs", failed(false), NOW + 3).await;

    let made = s.job_follow_up(NOW + 4, 100).await.unwrap();
    assert_eq!(made.chained, 1, "a dead job makes no next job");
    assert_eq!(s.job_follow_up(NOW + 5, 100).await.unwrap().chained, 0);
    let parent = s.job_get(Some(T), p.id).await.unwrap().unwrap();
    let child = s.job_get(Some(T), parent.next_id.unwrap()).await.unwrap().unwrap();
    assert_eq!((child.kind.as_str(), child.parent_id), ("email.send", Some(p.id)));
    let payload = payload_of(&child);
    assert_eq!(payload["to"], serde_json::json!(["lab@example.com"]));
    assert_eq!(payload["parent"]["id"], serde_json::json!(p.id));
    assert_eq!(payload["parent"]["result"]["pages"], 4);
    assert_eq!(payload["parent"]["artifacts"], serde_json::json!([]));

    // The chain goes on from the child.
    let job = claim_one(&s, "mail", NOW + 6).await;
    s.job_complete_if_attempt(done(job.id, job.attempt, succeeded(), NOW + 7)).await.unwrap();
    assert_eq!(s.job_follow_up(NOW + 8, 100).await.unwrap().chained, 1);
    let third = claim_one(&s, "app", NOW + 9).await;
    assert_eq!((third.kind.as_str(), third.parent_id), ("protocolo.marcar", Some(child.id)));
});

store_test!(a_finished_batch_goes_with_its_last_item, |s: S| async move {
    let (batch, _) =
        s.batch_create(T, BatchId::new(), vec![spec("estado.actualizar", "lote")], None, NOW).await.unwrap();
    let (open, _) =
        s.batch_create(T, BatchId::new(), vec![spec("estado.actualizar", "otro")], None, NOW).await.unwrap();
    run(&s, "lote", succeeded(), NOW + 1).await;
    s.job_follow_up(NOW + 2, 100).await.unwrap();
    let later = NOW + 400 * 86_400_000;
    let retention = Retention { succeeded_ms: 86_400_000, dead_ms: 86_400_000 };
    assert_eq!(s.job_delete_expired(later, retention, 1000).await.unwrap(), 1, "the finished item");
    assert!(s.batch_get(T, batch.id).await.unwrap().is_none(), "the finished batch went with it");
    assert!(s.batch_get(T, open.id).await.unwrap().is_some(), "a running batch stays");
});
