//! Webhooks: events written with the change that makes them, one delivery per matching
//! subscription, nothing for another tenant, and no event about a delivery itself.
use super::*;

fn spec_of(url: &str, events: &[WebhookEvent], kinds: &[&str]) -> WebhookSpec {
    WebhookSpec {
        url: url.into(),
        events: events.to_vec(),
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
        queues: vec![],
    }
}

async fn deliveries(s: &S, hook: &Webhook) -> Vec<Job> {
    let filter = JobFilter { tag: Some(format!("webhook:{}", hook.id)), limit: 100, ..Default::default() };
    s.job_list(T, filter).await.unwrap().jobs
}

fn body_of(job: &Job) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(job.payload.get()).unwrap()["body"].clone()
}

store_test!(events_become_one_delivery_per_matching_webhook, |s: S| async move {
    use WebhookEvent::*;
    let all = s
        .webhook_create(T, spec_of("https://app.example/hooks", &[JobSucceeded, JobDead, BatchDone], &[]), NOW)
        .await
        .unwrap();
    let pdf =
        s.webhook_create(T, spec_of("https://app.example/pdf", &[JobSucceeded], &["pdf.render"]), NOW).await.unwrap();
    let theirs =
        s.webhook_create("other", spec_of("https://other.example/", &WebhookEvent::ALL, &[]), NOW).await.unwrap();
    assert_eq!(s.webhook_list(T).await.unwrap().len(), 2);
    assert_eq!(s.webhook_get(T, pdf.id).await.unwrap().unwrap(), pdf);
    assert!(s.webhook_get(T, theirs.id).await.unwrap().is_none(), "another tenant's");

    let rendered = enqueue_one(&s, spec("pdf.render", "docs"), NOW).await;
    let job = claim_one(&s, "docs", NOW + 1).await;
    s.job_complete_if_attempt(done(job.id, job.attempt, succeeded(), NOW + 2)).await.unwrap();
    let broken = enqueue_one(&s, spec("csv.export", "docs"), NOW).await;
    let job = claim_one(&s, "docs", NOW + 3).await;
    s.job_complete_if_attempt(done(job.id, job.attempt, failed(false), NOW + 4)).await.unwrap();

    let made = s.job_follow_up(NOW + 5, 100).await.unwrap();
    assert_eq!(made.events, 2);
    let to_all = deliveries(&s, &all).await;
    assert_eq!(to_all.len(), 2);
    let to_pdf = deliveries(&s, &pdf).await;
    assert_eq!(to_pdf.len(), 1);
    let body = body_of(&to_pdf[0]);
    assert_eq!(body["type"], "job.succeeded");
    assert_eq!(body["data"]["job"]["id"], serde_json::json!(rendered.id));
    assert_eq!(body["data"]["job"]["result"]["ok"], true);
    let dead = to_all.iter().map(body_of).find(|b| b["type"] == "job.dead").unwrap();
    assert_eq!(dead["data"]["job"]["id"], serde_json::json!(broken.id));
    assert_eq!(dead["data"]["job"]["error"]["code"], "boom");
    let d = &to_pdf[0];
    assert_eq!(
        (d.kind.as_str(), d.queue.as_str(), d.builtin, d.max_attempts),
        (WEBHOOK_KIND, WEBHOOK_QUEUE, true, WEBHOOK_ATTEMPTS)
    );
    let other = JobFilter { limit: 100, ..Default::default() };
    assert!(s.job_list("other", other).await.unwrap().jobs.is_empty(), "another tenant hears nothing");

    // A delivery that ends makes no event of its own.
    let mut claim = claim_params(&[WEBHOOK_QUEUE], 10, NOW + 6);
    claim.builtin = true;
    for d in s.job_claim(claim).await.unwrap() {
        s.job_complete_if_attempt(done(d.id, d.attempt, succeeded(), NOW + 7)).await.unwrap();
    }
    assert_eq!(s.job_follow_up(NOW + 8, 100).await.unwrap().events, 0);

    // A finished batch is an event too.
    let (batch, _) =
        s.batch_create(T, BatchId::new(), vec![spec("estado.actualizar", "lote")], None, NOW).await.unwrap();
    let item = claim_one(&s, "lote", NOW + 9).await;
    s.job_complete_if_attempt(done(item.id, item.attempt, succeeded(), NOW + 10)).await.unwrap();
    s.job_follow_up(NOW + 11, 100).await.unwrap();
    s.job_follow_up(NOW + 12, 100).await.unwrap();
    let batch_events: Vec<_> =
        deliveries(&s, &all).await.iter().map(body_of).filter(|b| b["type"] == "batch.done").collect();
    assert_eq!(batch_events.len(), 1);
    assert_eq!(batch_events[0]["data"]["batch"]["id"], serde_json::json!(batch.id));
    assert_eq!(batch_events[0]["data"]["batch"]["state"], "succeeded");

    assert!(s.webhook_delete(T, all.id).await.unwrap());
    assert!(!s.webhook_delete(T, all.id).await.unwrap());
    assert!(!s.webhook_delete(T, theirs.id).await.unwrap(), "another tenant's");
    assert_eq!(deliveries(&s, &all).await.len(), 4, "the log stays (the batch item succeeded too)");
});
