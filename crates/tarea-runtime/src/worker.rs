//! The in-process worker: a claim loop that fills free slots, one task per job, a heartbeat
//! that renews every lease in one store call, and a progress flusher that writes at most one
//! progress update per job per tick.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tarea_core::{
    ClaimParams, CompleteParams, Handler, HandlerError, Job, JobContext, JobError, JobId, JobState, Outcome,
    ProgressSink, ProgressUpdate, Store,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{EventHub, Metrics, Registry, RuntimeConfig, now_ms};

/// Cancelled job ids remembered for jobs not yet registered as running.
const RECENT_CANCELS: usize = 1024;

/// How long a handler gets to return after its token fires at a hard stop.
const WIND_DOWN: Duration = Duration::from_secs(2);

/// The latest unsent progress report of one job. `writing` is held while a report is taken
/// and written, so two writers (the flusher and the job's final flush) keep their order and a
/// late write never replaces a newer step.
#[derive(Default)]
struct Pending {
    latest: Mutex<Option<ProgressUpdate>>,
    writing: tokio::sync::Mutex<()>,
}

impl Pending {
    /// Writes the latest report, if any, in order with every other write of this job.
    async fn flush(&self, store: &dyn Store, id: JobId, attempt: u32) {
        let _writing = self.writing.lock().await;
        let Some(update) = self.latest.lock().ok().and_then(|mut p| p.take()) else { return };
        if let Err(e) = store.job_progress_if_attempt(None, id, attempt, update).await {
            tracing::debug!(job = %id, error = %e, "progress not recorded");
        }
    }
}

impl ProgressSink for Pending {
    fn report(&self, update: ProgressUpdate) {
        if let Ok(mut p) = self.latest.lock() {
            match p.as_mut() {
                Some(old) => merge(old, update),
                None => *p = Some(update),
            }
        }
    }
}

fn merge(old: &mut ProgressUpdate, new: ProgressUpdate) {
    old.percent = new.percent.or(old.percent);
    old.step = new.step.or(old.step.take());
    old.current = new.current.or(old.current);
    old.total = new.total.or(old.total);
}

struct Running {
    token: CancellationToken,
    progress: Arc<Pending>,
}

/// State shared by the worker's tasks.
pub(crate) struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) registry: Registry,
    pub(crate) hub: Arc<EventHub>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) config: RuntimeConfig,
    /// Keyed by (job, attempt): an old attempt still winding down and a new one of the same
    /// job (after a cancel and retry) are two entries.
    running: Mutex<HashMap<(JobId, u32), Running>>,
    /// Fires at a soft stop: claim nothing more.
    pub(crate) stop_claiming: CancellationToken,
    /// Fires at a hard stop: cancel handlers and release their jobs.
    pub(crate) hard_stop: CancellationToken,
    pub(crate) jobs: TaskTracker,
    completions: mpsc::UnboundedSender<CompleteParams>,
    /// Built-in jobs cancelled lately, for a cancel that lands between a claim and the moment
    /// its job is registered as running here.
    recent_cancels: Mutex<std::collections::VecDeque<(JobId, u32)>>,
}

impl Worker {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        hub: Arc<EventHub>,
        metrics: Arc<Metrics>,
        config: RuntimeConfig,
        completions: mpsc::UnboundedSender<CompleteParams>,
    ) -> Arc<Worker> {
        Arc::new(Worker {
            completions,
            recent_cancels: Mutex::new(std::collections::VecDeque::new()),
            store,
            registry,
            hub,
            metrics,
            config,
            running: Mutex::new(HashMap::new()),
            stop_claiming: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
            jobs: TaskTracker::new(),
        })
    }

    /// Jobs running in this process now.
    pub(crate) fn running_count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Claims jobs into free slots until told to stop.
    pub(crate) async fn claim_loop(self: Arc<Self>) {
        /// How long a busy claim loop waits for more free slots.
        const CLAIM_COALESCE: Duration = Duration::from_millis(2);
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut ready = self.hub.builtin_ready();
        let poll = Duration::from_millis(self.config.poll_ms.max(10));
        let mut errors = 0u32;
        loop {
            let first = tokio::select! {
                _ = self.stop_claiming.cancelled() => break,
                p = Arc::clone(&slots).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let mut permits = vec![first];
            let batch = self.config.claim_batch.max(1) as usize;
            let take = |permits: &mut Vec<_>| {
                while permits.len() < batch {
                    match Arc::clone(&slots).try_acquire_owned() {
                        Ok(p) => permits.push(p),
                        Err(_) => break,
                    }
                }
            };
            take(&mut permits);
            // Busy (few slots free): let a few more jobs finish before claiming, so one claim
            // serves many slots instead of one. A round trip to PostgreSQL costs a millisecond
            // or more; claiming per freed slot capped a node at ~2,000 jobs/s. Idle, all slots
            // are free and the claim goes out at once.
            if permits.len() < batch.min(self.config.concurrency) / 4 {
                tokio::select! {
                    _ = self.stop_claiming.cancelled() => break,
                    _ = tokio::time::sleep(CLAIM_COALESCE) => {}
                }
                take(&mut permits);
            }
            ready.borrow_and_update();
            let params = ClaimParams {
                tenant: None,
                queues: self.config.queues.clone(),
                kinds: None,
                builtin: true,
                max: permits.len() as u32,
                lease_ms: self.config.lease_ms,
                worker: self.config.worker.clone(),
                now: now_ms(),
            };
            let wanted = permits.len();
            let jobs = match self.store.job_claim(params).await {
                Ok(jobs) => {
                    errors = 0;
                    jobs
                }
                Err(e) => {
                    errors += 1;
                    tracing::warn!(error = %e, "claim failed; backing off");
                    drop(permits);
                    let backoff = Duration::from_millis(50u64 << errors.min(6));
                    tokio::select! {
                        _ = self.stop_claiming.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => continue,
                    }
                }
            };
            let got = jobs.len();
            // The store never returns more than `max` jobs, so there is a permit for each.
            for (job, permit) in jobs.into_iter().zip(permits.drain(..)) {
                self.jobs.spawn(Arc::clone(&self).execute(job, permit));
            }
            drop(permits);
            if got < wanted {
                tokio::select! {
                    _ = self.stop_claiming.cancelled() => break,
                    _ = ready.changed() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
        }
    }

    async fn execute(self: Arc<Self>, job: Job, _slot: OwnedSemaphorePermit) {
        let started = Instant::now();
        let waited = (job.started_at.unwrap_or(job.run_at) - job.run_at) as f64 / 1000.0;
        self.metrics.job_started(&job.tenant, &job.queue, &job.kind, waited);
        let token = self.hard_stop.child_token();
        let progress = Arc::new(Pending::default());
        if let Ok(mut r) = self.running.lock() {
            r.insert((job.id, job.attempt), Running { token: token.clone(), progress: Arc::clone(&progress) });
        }
        if self.recent_cancels.lock().is_ok_and(|c| c.contains(&(job.id, job.attempt))) {
            token.cancel();
        }
        let outcome = match self.registry.get(&job.kind) {
            Some(handler) => self.run_handler(handler, &job, token.clone(), Arc::clone(&progress)).await,
            None => Some(Outcome::Failed {
                error: JobError::new("unknown_kind", format!("no handler for kind {:?} in this tarea build", job.kind)),
                retryable: false,
            }),
        };
        progress.flush(self.store.as_ref(), job.id, job.attempt).await;
        if let Ok(mut r) = self.running.lock() {
            r.remove(&(job.id, job.attempt));
        }
        let Some(outcome) = outcome else { return };
        self.metrics.job_ran(&job.tenant, &job.queue, &job.kind, started.elapsed().as_secs_f64());
        let params = CompleteParams { id: job.id, tenant: None, attempt: job.attempt, outcome, now: now_ms() };
        if self.completions.send(params).is_err() {
            tracing::error!(job = %job.id, "the completer stopped; the job's lease will expire and it runs again");
        }
    }

    /// Runs one attempt; `None` when the job was taken from us (cancelled or lease lost) and
    /// there is nothing to record.
    async fn run_handler(
        &self,
        handler: Arc<dyn Handler>,
        job: &Job,
        token: CancellationToken,
        progress: Arc<Pending>,
    ) -> Option<Outcome> {
        let timeout = job.timeout_ms.map(Duration::from_millis);
        let ctx = JobContext {
            id: job.id,
            tenant: job.tenant.clone(),
            kind: job.kind.clone(),
            attempt: job.attempt,
            last_error: job.error.clone(),
            payload: job.payload.clone(),
            cancel: token.clone(),
            progress,
            deadline: timeout.map(|t| Instant::now() + t),
            artifacts: Arc::new(crate::artifacts::JobArtifacts {
                store: Arc::clone(&self.store),
                artifacts: self.config.artifacts.clone(),
                maker: crate::Maker {
                    tenant: job.tenant.clone(),
                    job: Some((job.id, job.attempt)),
                    kind: job.kind.clone(),
                    cache_key: job.cache_key.clone(),
                },
            }),
        };
        let mut task = tokio::spawn(async move { handler.run(ctx).await });
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            r = &mut task => r,
            _ = deadline => {
                token.cancel();
                task.abort();
                return Some(Outcome::Failed {
                    error: JobError::new("timeout", format!("the attempt ran longer than its timeout of {} ms", job.timeout_ms.unwrap_or(0))),
                    retryable: true,
                });
            }
            _ = self.hard_stop.cancelled() => {
                match tokio::time::timeout(WIND_DOWN, &mut task).await {
                    Ok(r) => r,
                    Err(_) => { task.abort(); return Some(Outcome::Released); }
                }
            }
        };
        match result {
            Ok(Ok(result)) => Some(Outcome::Succeeded { result: Some(result) }),
            Ok(Err(HandlerError::Retryable(error))) => Some(Outcome::Failed { error, retryable: true }),
            Ok(Err(HandlerError::Fatal(error))) => Some(Outcome::Failed { error, retryable: false }),
            Ok(Err(HandlerError::Cancelled)) if self.hard_stop.is_cancelled() => Some(Outcome::Released),
            // Cancelled through the API (or the lease was lost): the store already moved on.
            Ok(Err(HandlerError::Cancelled)) if token.is_cancelled() => None,
            // The handler gave up by itself: give the job back rather than leave it to the reaper.
            Ok(Err(HandlerError::Cancelled)) => Some(Outcome::Released),
            Err(e) if e.is_panic() => {
                tracing::error!(job = %job.id, kind = %job.kind, "handler panicked");
                Some(Outcome::Failed {
                    error: JobError::new("handler_panicked", "the handler crashed; see the server log"),
                    retryable: true,
                })
            }
            Err(_) => Some(Outcome::Released),
        }
    }

    /// Renews every lease this process holds, every third of the lease.
    pub(crate) async fn heartbeat_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = Duration::from_millis((self.config.lease_ms / 3).max(100));
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            let held: Vec<(JobId, u32)> = match self.running.lock() {
                Ok(r) => r.keys().copied().collect(),
                Err(_) => continue,
            };
            if held.is_empty() {
                continue;
            }
            match self.store.lease_renew_if_attempt(None, &held, self.config.lease_ms, now_ms()).await {
                Ok(kept) => {
                    for (key, kept) in held.iter().zip(kept) {
                        if !kept {
                            tracing::warn!(job = %key.0, attempt = key.1, "lost the lease of a running job; cancelling it here");
                            self.cancel_attempt(*key);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed; will retry"),
            }
        }
    }

    /// Writes pending progress reports, at most one per job per tick.
    pub(crate) async fn progress_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            let pending: Vec<(JobId, u32, Arc<Pending>)> = match self.running.lock() {
                Ok(r) => r
                    .iter()
                    .filter(|(_, r)| r.progress.latest.lock().is_ok_and(|p| p.is_some()))
                    .map(|((id, attempt), r)| (*id, *attempt, Arc::clone(&r.progress)))
                    .collect(),
                Err(_) => continue,
            };
            for (id, attempt, progress) in pending {
                progress.flush(self.store.as_ref(), id, attempt).await;
            }
        }
    }

    /// Fires the token of running jobs that were cancelled through the API.
    pub(crate) async fn cancel_watch(self: Arc<Self>, stop: CancellationToken) {
        let mut cancels = self.hub.cancels();
        loop {
            let cancel = tokio::select! {
                _ = stop.cancelled() => break,
                c = cancels.recv() => c,
            };
            match cancel {
                Ok((id, attempt)) => {
                    if let Ok(mut recent) = self.recent_cancels.lock() {
                        if recent.len() >= RECENT_CANCELS {
                            recent.pop_front();
                        }
                        recent.push_back((id, attempt));
                    }
                    self.cancel_local(id);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => self.cancel_stale().await,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    }

    /// Cancels every attempt of `id` running here.
    fn cancel_local(&self, id: JobId) {
        if let Ok(r) = self.running.lock() {
            r.iter().filter(|((job, _), _)| *job == id).for_each(|(_, run)| run.token.cancel());
        }
    }

    fn cancel_attempt(&self, key: (JobId, u32)) {
        if let Ok(r) = self.running.lock()
            && let Some(run) = r.get(&key)
        {
            run.token.cancel();
        }
    }

    /// After missing events, checks each running job against the store.
    async fn cancel_stale(&self) {
        let ids: Vec<(JobId, u32)> = match self.running.lock() {
            Ok(r) => r.keys().copied().collect(),
            Err(_) => return,
        };
        for (id, attempt) in ids {
            if let Ok(Some(job)) = self.store.job_get(None, id).await
                && (job.state != JobState::Running || job.attempt != attempt)
            {
                self.cancel_attempt((id, attempt));
            }
        }
    }
}

/// Most completions written in one store call.
const COMPLETION_BATCH: usize = 1000;

/// The batch completer: whatever completions queued up while the previous batch was being
/// written go out together in one store call (River's batch completer). There is no timer: a
/// lone completion is written at once.
pub(crate) async fn completer(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<CompleteParams>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            p = rx.recv() => p,
            _ = stop.cancelled() => None,
        };
        let mut batch: Vec<CompleteParams> = first.into_iter().collect();
        while batch.len() < COMPLETION_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            break;
        }
        write_completions(store.as_ref(), batch).await;
    }
}

async fn write_completions(store: &dyn Store, batch: Vec<CompleteParams>) {
    let ids: Vec<JobId> = batch.iter().map(|p| p.id).collect();
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=5 {
        match store.job_complete_many_if_attempt(batch.clone()).await {
            Ok(results) => {
                for (id, r) in ids.iter().zip(results) {
                    match r {
                        Ok(()) => {}
                        Err(tarea_core::StoreError::StaleAttempt { state, .. }) => {
                            tracing::debug!(job = %id, %state, "completion refused: the attempt is no longer current");
                        }
                        Err(e) => tracing::error!(job = %id, error = %e, "could not record a job's outcome"),
                    }
                }
                return;
            }
            Err(e) if attempt < 5 => {
                tracing::warn!(error = %e, jobs = ids.len(), "writing completions failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = ids.len(), "could not record outcomes; these jobs run again after their lease expires")
            }
        }
    }
}
