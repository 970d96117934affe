//! Trace and span ids computed from the job, never stored: every node derives the same ids for
//! the same job, so the node that ends an attempt can name the job's root span as its parent
//! without asking the node that accepted the job.
use opentelemetry::trace::{SpanId, TraceId};
use tarea_core::JobId;

/// The job's trace: its id's 16 bytes, so the trace of job `0193…` is found by that very id.
pub(crate) fn trace_id(job: JobId) -> TraceId {
    TraceId::from_bytes(*job.as_bytes())
}

/// Which of a job's spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The job from creation to its end: the trace's root.
    Job,
    /// Its creation.
    Enqueue,
    /// One run.
    Attempt(u32),
    /// A cancellation that ended no run (the job was waiting).
    Cancel,
}

impl Part {
    fn number(self) -> u64 {
        match self {
            Part::Job => 0,
            Part::Enqueue => 1,
            Part::Cancel => 2,
            Part::Attempt(n) => 16 + u64::from(n),
        }
    }
}

/// The span id of `part` of `job`: a mix of the job's bytes and the part, never zero (the
/// invalid id).
pub(crate) fn span_id(job: JobId, part: Part) -> SpanId {
    let mixed = mix(job) ^ splitmix64(part.number().wrapping_add(0x5EED));
    SpanId::from(splitmix64(mixed).max(1))
}

/// Whether `job` is traced at `ratio` (0–1). The choice hangs on the job's id alone, so every
/// node decides alike and a sampled job's trace is whole.
pub(crate) fn sampled(job: JobId, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    // The top 53 bits of a well-mixed word, as a fraction in [0, 1).
    let fraction = (splitmix64(mix(job) ^ 0x7A2E_A000) >> 11) as f64 / (1u64 << 53) as f64;
    fraction < ratio
}

fn mix(job: JobId) -> u64 {
    let b = job.as_bytes();
    let hi = u64::from_be_bytes(b[..8].try_into().expect("8 bytes"));
    let lo = u64::from_be_bytes(b[8..].try_into().expect("8 bytes"));
    splitmix64(hi) ^ lo.rotate_left(29)
}

/// SplitMix64's finalizer: a cheap bijection that spreads every input bit over the output.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_trace_id_is_the_job_id() {
        let job = JobId::new();
        assert_eq!(trace_id(job).to_string(), job.0.simple().to_string());
    }

    #[test]
    fn span_ids_are_stable_and_distinct_per_part() {
        let job = JobId::new();
        assert_eq!(span_id(job, Part::Attempt(3)), span_id(job, Part::Attempt(3)));
        let parts = [Part::Job, Part::Enqueue, Part::Cancel, Part::Attempt(1), Part::Attempt(2), Part::Attempt(99)];
        let ids: HashSet<_> = parts.iter().map(|p| span_id(job, *p)).collect();
        assert_eq!(ids.len(), parts.len());
        assert!(ids.iter().all(|id| *id != SpanId::INVALID));
        assert_ne!(span_id(job, Part::Job), span_id(JobId::new(), Part::Job));
    }

    #[test]
    fn sampling_keeps_about_the_ratio_and_decides_alike_each_time() {
        // Ids made in one millisecond share their time bits and differ in few others: the
        // choice must still be spread evenly.
        let jobs: Vec<JobId> = (0..20_000).map(|_| JobId::new()).collect();
        let kept = jobs.iter().filter(|j| sampled(**j, 0.1)).count();
        assert!((1_600..=2_400).contains(&kept), "kept {kept} of 20000 at 0.1");
        assert!(jobs.iter().all(|j| sampled(*j, 0.1) == sampled(*j, 0.1)));
        assert!(jobs.iter().all(|j| sampled(*j, 1.0)));
        assert!(!jobs.iter().any(|j| sampled(*j, 0.0)));
    }
}
