//! Schedules: a cron pattern read in a time zone, and the job to make at each tick. The cron
//! math is here and pure; the store fires a due tick in one transaction that moves the
//! schedule's `next_run_at` only if it still holds the tick it read, so a tick makes one job
//! however many nodes try at once.
//!
//! The IANA time zone database is compiled in (jiff's bundled copy), not read from
//! `/usr/share/zoneinfo`: the core does no I/O, and a container without tzdata gives the same
//! answers as a full machine.
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{JobId, JobSpec};

/// A late tick counts as missed (and follows the schedule's [`MissedPolicy`]) once it is this
/// far behind: the server was down, or the store unreachable, when it fell due.
pub const MISSED_AFTER_MS: i64 = 60_000;

/// Why a cron pattern or time zone was refused; the message says what would be accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron pattern does not parse or never matches.
    #[error("{0}")]
    Cron(String),
    /// The time zone is not in the IANA database.
    #[error("{0}")]
    TimeZone(String),
}

/// A parsed cron pattern and the time zone it is read in.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    cron: croner::Cron,
    tz: jiff::tz::TimeZone,
}

impl CronSchedule {
    /// Parses `cron` (5 fields, or 6 with seconds first; `@daily` and friends; names of months
    /// and weekdays) read in the IANA time zone `timezone`.
    pub fn parse(cron: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let tz = jiff::tz::TimeZone::get(timezone).map_err(|_| {
            ScheduleError::TimeZone(format!(
                "unknown time zone {timezone:?}: use an IANA name such as America/Argentina/Buenos_Aires, \
                 Europe/Madrid or UTC"
            ))
        })?;
        let parsed = croner::Cron::from_str(cron).map_err(|e| {
            ScheduleError::Cron(format!(
                "cron {cron:?} does not parse ({e}); expected five fields, minute hour day-of-month month \
                 day-of-week, such as \"0 2 * * *\" for every day at 02:00"
            ))
        })?;
        let schedule = CronSchedule { cron: parsed, tz };
        if schedule.next_after(0).is_none() {
            return Err(ScheduleError::Cron(format!("cron {cron:?} never matches a real date")));
        }
        Ok(schedule)
    }

    fn zoned(&self, ms: i64) -> Option<jiff::Zoned> {
        Some(jiff::Timestamp::from_millisecond(ms).ok()?.to_zoned(self.tz.clone()))
    }

    /// The first tick strictly after `ms` (ms since the epoch). A local time that a
    /// daylight-saving change skips runs at the first instant after the change; a local time
    /// that happens twice runs once, at its first occurrence.
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let next = self.cron.find_next_occurrence(&self.zoned(ms)?, false).ok()?;
        Some(next.timestamp().as_millisecond())
    }

    /// The last tick at or before `ms`.
    pub fn last_at_or_before(&self, ms: i64) -> Option<i64> {
        let last = self.cron.find_previous_occurrence(&self.zoned(ms)?, true).ok()?;
        Some(last.timestamp().as_millisecond())
    }

    /// The next `n` ticks after `ms`.
    pub fn next_runs(&self, ms: i64, n: usize) -> Vec<i64> {
        std::iter::successors(self.next_after(ms), |t| self.next_after(*t)).take(n).collect()
    }

    /// RFC 3339 in the schedule's zone, e.g. `2026-11-29T02:00:00-03:00`.
    pub fn format_local(&self, ms: i64) -> String {
        self.zoned(ms).map(|z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()).unwrap_or_default()
    }

    /// The pattern in English, e.g. "At 02:00, every day".
    pub fn describe(&self) -> String {
        self.cron.describe()
    }
}

/// What a schedule does about ticks that passed while tarea could not fire them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MissedPolicy {
    /// Make one job on catch-up, for the latest missed tick (the nightly statistics still run
    /// when the server comes back at 02:30). The default.
    #[default]
    RunOnce,
    /// Make no job for missed ticks; wait for the next one.
    Skip,
}

impl MissedPolicy {
    /// Every policy.
    pub const ALL: [MissedPolicy; 2] = [MissedPolicy::RunOnce, MissedPolicy::Skip];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MissedPolicy::RunOnce => "run_once",
            MissedPolicy::Skip => "skip",
        }
    }
}

impl FromStr for MissedPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MissedPolicy::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown missed-tick policy {s:?}; expected run_once or skip"))
    }
}

/// What firing a due schedule does: make a job for `tick` (if any) and wait for `next`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirePlan {
    /// The tick a job is made for; `None` when missed ticks are skipped.
    pub tick: Option<i64>,
    /// The schedule's next tick after `now`.
    pub next: Option<i64>,
}

impl CronSchedule {
    /// Plans the firing at `now` of a schedule due at `due` (`due <= now`): at most one job,
    /// for the latest tick that has passed. It is made if that tick is on time, or if it is
    /// missed (later than [`MISSED_AFTER_MS`]) and the policy runs once on catch-up.
    pub fn plan_fire(&self, due: i64, missed: MissedPolicy, now: i64) -> FirePlan {
        let latest = self.last_at_or_before(now).filter(|t| *t >= due).unwrap_or(due);
        let on_time = now - latest <= MISSED_AFTER_MS;
        let tick = (on_time || missed == MissedPolicy::RunOnce).then_some(latest);
        FirePlan { tick, next: self.next_after(now) }
    }
}

/// A schedule as stored: validated, with its job ready to enqueue.
#[derive(Clone, Debug)]
pub struct ScheduleSpec {
    /// Its name, unique in the tenant.
    pub name: String,
    /// The cron pattern.
    pub cron: String,
    /// The IANA time zone the pattern is read in.
    pub timezone: String,
    /// The job each tick makes.
    pub job: JobSpec,
    /// A paused schedule makes no jobs.
    pub paused: bool,
    /// What to do about missed ticks.
    pub missed: MissedPolicy,
}

/// A stored schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Owner.
    pub tenant: String,
    /// Name, unique in the tenant.
    pub name: String,
    /// The cron pattern.
    pub cron: String,
    /// The IANA time zone.
    pub timezone: String,
    /// The job each tick makes.
    pub job: JobSpec,
    /// Whether it is paused.
    pub paused: bool,
    /// What to do about missed ticks.
    pub missed: MissedPolicy,
    /// Its next tick (ms); `None` while paused.
    pub next_run_at: Option<i64>,
    /// The tick of the last job it made.
    pub last_run_at: Option<i64>,
    /// The last job it made.
    pub last_job_id: Option<JobId>,
    /// Why the last tick made no job (its queue was full), if it made none.
    pub last_error: Option<String>,
    /// Jobs it has made.
    pub runs: u64,
    /// When it was first stored.
    pub created_at: i64,
    /// When it was last changed.
    pub updated_at: i64,
}

/// What one call of [`crate::Store::schedule_fire_due`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulesFired {
    /// Jobs made.
    pub jobs: u64,
    /// Ticks passed without a job (missed and skipped, or the queue was full).
    pub skipped: u64,
    /// When the next schedule falls due; `now` when more were due than one call handles.
    pub next_due: Option<i64>,
}

impl ScheduleSpec {
    /// The next tick of this schedule when it is stored at `now` over `old`: none while
    /// paused; the old one if the pattern and zone are unchanged and it has not fired yet (a
    /// schedule stored again a moment after 02:00 still fires its 02:00 tick); else the first
    /// after `now`.
    pub fn next_run_at(&self, old: Option<&Schedule>, now: i64) -> Result<Option<i64>, ScheduleError> {
        if self.paused {
            return Ok(None);
        }
        if let Some(old) = old
            && old.cron == self.cron
            && old.timezone == self.timezone
            && old.next_run_at.is_some()
        {
            return Ok(old.next_run_at);
        }
        Ok(CronSchedule::parse(&self.cron, &self.timezone)?.next_after(now))
    }

    /// The job made for `tick`: the schedule's job, due at the tick, keyed by it, and tagged
    /// `schedule:{name}` so that `GET /v1/jobs?tag=schedule:{name}` lists the runs.
    pub fn job_for_tick(name: &str, job: &JobSpec, tick: i64) -> JobSpec {
        let mut spec = job.clone();
        spec.run_at = Some(tick);
        spec.idempotency_key = Some(schedule_job_key(name, tick));
        let tag = format!("schedule:{name}");
        if !spec.tags.contains(&tag) {
            spec.tags.push(tag);
        }
        spec
    }
}

/// The idempotency key of the job a schedule makes for a tick: a tick makes one job even if
/// the schedule is deleted and stored again within it.
pub fn schedule_job_key(name: &str, tick: i64) -> String {
    format!("schedule:{name}:{tick}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(s: &str) -> i64 {
        crate::parse_rfc3339_ms(s).unwrap()
    }

    #[test]
    fn nightly_run_in_buenos_aires() {
        let s = CronSchedule::parse("0 2 * * *", "America/Argentina/Buenos_Aires").unwrap();
        let next = s.next_after(ms("2026-11-28T12:00:00Z")).unwrap();
        assert_eq!(next, ms("2026-11-29T05:00:00Z"));
        assert_eq!(s.format_local(next), "2026-11-29T02:00:00-03:00");
        assert_eq!(s.next_runs(next - 1, 3).len(), 3);
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_runs_after_the_change() {
        // Madrid springs forward on 2026-03-29 at 02:00 to 03:00: 02:30 does not exist.
        let s = CronSchedule::parse("30 2 * * *", "Europe/Madrid").unwrap();
        let next = s.next_after(ms("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(s.format_local(next), "2026-03-29T03:00:00+02:00");
        let after = s.next_after(next).unwrap();
        assert_eq!(s.format_local(after), "2026-03-30T02:30:00+02:00");
    }

    #[test]
    fn a_time_that_happens_twice_runs_once() {
        // Madrid falls back on 2026-10-25 at 03:00 to 02:00: 02:30 happens twice.
        let s = CronSchedule::parse("30 2 * * *", "Europe/Madrid").unwrap();
        let first = s.next_after(ms("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(s.format_local(first), "2026-10-25T02:30:00+02:00");
        let second = s.next_after(first).unwrap();
        assert_eq!(s.format_local(second), "2026-10-26T02:30:00+01:00");
    }

    #[test]
    fn refusals_say_what_is_accepted() {
        let e = CronSchedule::parse("0 2 * *", "UTC").unwrap_err();
        assert!(matches!(&e, ScheduleError::Cron(m) if m.contains("five fields")), "{e}");
        let e = CronSchedule::parse("61 2 * * *", "UTC").unwrap_err();
        assert!(matches!(e, ScheduleError::Cron(_)));
        let e = CronSchedule::parse("0 2 * * *", "America/Buenos_Aires_").unwrap_err();
        assert!(matches!(&e, ScheduleError::TimeZone(m) if m.contains("America/Argentina/Buenos_Aires")), "{e}");
        let e = CronSchedule::parse("0 0 30 2 *", "UTC").unwrap_err();
        assert!(matches!(&e, ScheduleError::Cron(m) if m.contains("never")), "{e}");
    }

    #[test]
    fn missed_ticks_follow_the_policy() {
        let s = CronSchedule::parse("0 2 * * *", "UTC").unwrap();
        let due = ms("2026-11-28T02:00:00Z");
        let on_time = s.plan_fire(due, MissedPolicy::Skip, due + 500);
        assert_eq!(on_time.tick, Some(due));
        assert_eq!(on_time.next, Some(ms("2026-11-29T02:00:00Z")));
        let late = due + 30 * 60_000;
        assert_eq!(s.plan_fire(due, MissedPolicy::Skip, late).tick, None);
        assert_eq!(s.plan_fire(due, MissedPolicy::RunOnce, late).tick, Some(due));
        // Three days down: one job, for the latest tick.
        let days = ms("2026-12-01T03:00:00Z");
        let plan = s.plan_fire(due, MissedPolicy::RunOnce, days);
        assert_eq!(plan.tick, Some(ms("2026-12-01T02:00:00Z")));
        assert_eq!(plan.next, Some(ms("2026-12-02T02:00:00Z")));
    }

    #[test]
    fn either_day_field_matches_as_in_vixie_cron() {
        // Noon on the 13th or on a Friday: 2026-11-27 is a Friday, 2026-12-13 a Sunday.
        let s = CronSchedule::parse("0 12 13 * FRI", "UTC").unwrap();
        let runs: Vec<String> =
            s.next_runs(ms("2026-11-26T00:00:00Z"), 4).into_iter().map(|t| s.format_local(t)).collect();
        assert_eq!(
            runs,
            [
                "2026-11-27T12:00:00+00:00",
                "2026-12-04T12:00:00+00:00",
                "2026-12-11T12:00:00+00:00",
                "2026-12-13T12:00:00+00:00"
            ]
        );
    }

    #[test]
    fn missed_policy_names_round_trip() {
        for p in MissedPolicy::ALL {
            assert_eq!(p.as_str().parse::<MissedPolicy>().unwrap(), p);
        }
        assert!("later".parse::<MissedPolicy>().unwrap_err().contains("run_once"));
    }

    proptest! {
        #[test]
        fn ticks_rise_and_match_the_pattern(start in 1_700_000_000_000i64..1_900_000_000_000i64, zone in 0usize..4) {
            let zones = ["UTC", "Europe/Madrid", "America/Argentina/Buenos_Aires", "America/Santiago"];
            let s = CronSchedule::parse("*/15 1-3 * * 1-5", zones[zone]).unwrap();
            let runs = s.next_runs(start, 6);
            prop_assert_eq!(runs.len(), 6);
            let mut last = start;
            for t in runs {
                prop_assert!(t > last);
                prop_assert_eq!(s.last_at_or_before(t), Some(t));
                last = t;
            }
        }
    }
}
