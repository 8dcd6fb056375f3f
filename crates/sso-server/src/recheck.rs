//! The periodic re-verification of domains verified by DNS: the due ones are claimed in the
//! database (so servers sharing it never check one twice) and their TXT record looked up
//! again; each check is an event the org's admins can list, and a domain whose record stays
//! gone drops back to pending (see `Provisioner::recheck_due_domains`).

use std::time::Duration;

use sso_domains::TxtLookup;
use sso_provisioning::Provisioner;
use time::OffsetDateTime;
use tokio::sync::watch;

/// How often the server looks for due checks at most: every minute, or every interval when
/// it is shorter (tests).
const LOOK_AT_MOST_EVERY: Duration = Duration::from_secs(60);

/// Runs until `stop` turns true.
pub(crate) async fn run(
    provisioner: Provisioner,
    lookup: TxtLookup,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks =
        tokio::time::interval(interval.clamp(Duration::from_secs(1), LOOK_AT_MOST_EVERY));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        match provisioner
            .recheck_due_domains(&lookup, OffsetDateTime::now_utc())
            .await
        {
            Ok(done) => {
                for check in &done {
                    match &check.result {
                        Ok(_) => tracing::info!(
                            org = check.org.get(),
                            domain = check.domain,
                            "domain re-verified"
                        ),
                        Err(e) => tracing::warn!(
                            org = check.org.get(),
                            domain = check.domain,
                            reason = check.reason(),
                            "domain re-verification failed: {e}"
                        ),
                    }
                }
            }
            Err(e) => tracing::error!(
                reason = e.reason(),
                "domain re-verification pass failed: {e}"
            ),
        }
    }
}
