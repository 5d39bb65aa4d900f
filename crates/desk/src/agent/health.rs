//! How the provider has been doing, in this process: failures by kind, how many in a row, the
//! last one and the last success. A provider that keeps failing makes the desk answer from
//! templates; this is what makes that visible (`/api/status`, `/webhooks/whatsapp/status`,
//! `wamcp_desk_provider_failures_total` and the `DeskProviderFailing` alert) instead of a log line.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use wamcp_core::Timestamp;

use super::provider::{FailureKind, ProviderError};

/// Failures in a row from which the provider counts as failing.
pub const FAILING_AFTER: u64 = 3;

/// The last failure, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastFailure {
    pub reason: FailureKind,
    pub detail: String,
    pub at: String,
}

/// The provider's health as the status endpoints show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// True after [`FAILING_AFTER`] failures in a row: customers get template answers.
    pub failing: bool,
    pub failures_in_a_row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<LastFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<String>,
    /// What the check at start said, when it had something to say (a shutdown date, no answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_check: Option<String>,
}

#[derive(Default)]
struct State {
    failures: BTreeMap<FailureKind, u64>,
    in_a_row: u64,
    last_failure: Option<LastFailure>,
    last_success: Option<Timestamp>,
    start_check: Option<String>,
}

pub struct ProviderHealth {
    provider: String,
    model: Option<String>,
    state: Mutex<State>,
}

impl ProviderHealth {
    pub fn new(provider: &str, model: Option<&str>) -> ProviderHealth {
        ProviderHealth {
            provider: provider.to_string(),
            model: model.map(str::to_string),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn succeeded(&self) {
        let mut state = self.state();
        state.in_a_row = 0;
        state.last_success = Some(Timestamp::now());
    }

    pub fn failed(&self, error: &ProviderError) {
        let mut state = self.state();
        *state.failures.entry(error.kind).or_default() += 1;
        state.in_a_row += 1;
        state.last_failure =
            Some(LastFailure { reason: error.kind, detail: error.detail.clone(), at: Timestamp::now().to_rfc3339() });
    }

    /// What the check at start found worth saying.
    pub fn noted_at_start(&self, note: String) {
        self.state().start_check = Some(note);
    }

    /// Failures of each kind so far, every kind named.
    pub fn failures(&self) -> Vec<(FailureKind, u64)> {
        let state = self.state();
        FailureKind::ALL.iter().map(|kind| (*kind, state.failures.get(kind).copied().unwrap_or(0))).collect()
    }

    pub fn report(&self) -> HealthReport {
        let state = self.state();
        HealthReport {
            provider: self.provider.clone(),
            model: self.model.clone(),
            failing: state.in_a_row >= FAILING_AFTER,
            failures_in_a_row: state.in_a_row,
            last_failure: state.last_failure.clone(),
            last_success_at: state.last_success.map(|t| t.to_rfc3339()),
            start_check: state.start_check.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: FailureKind) -> ProviderError {
        ProviderError { provider: "gemini".into(), kind, detail: "HTTP 503".into() }
    }

    #[test]
    fn a_provider_fails_after_three_in_a_row_and_recovers_with_one_answer() {
        let health = ProviderHealth::new("gemini", Some("m"));
        health.failed(&failure(FailureKind::ServerError));
        health.failed(&failure(FailureKind::RateLimited));
        assert!(!health.report().failing);
        health.failed(&failure(FailureKind::ServerError));
        let report = health.report();
        assert!(report.failing);
        assert_eq!(report.last_failure.unwrap().reason, FailureKind::ServerError, "the last one");
        let counts = health.failures();
        assert!(counts.contains(&(FailureKind::ServerError, 2)) && counts.contains(&(FailureKind::RateLimited, 1)));
        health.succeeded();
        let report = health.report();
        assert!(!report.failing && report.failures_in_a_row == 0 && report.last_success_at.is_some());
        assert_eq!(health.failures().iter().map(|(_, n)| n).sum::<u64>(), 3, "the totals stay");
    }
}
