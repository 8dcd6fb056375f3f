//! The periodic refresh of IdP metadata imported from a URL: every minute, the connections
//! whose refresh is due are claimed in the database (so servers sharing it never run one
//! twice) and refreshed; a failure keeps the working configuration, and every outcome is an
//! event the org's admins can list.

use std::time::Duration;

use sso_fetch::Fetcher;
use sso_provisioning::Provisioner;
use time::OffsetDateTime;
use tokio::sync::watch;

/// How often the server looks for due refreshes. The shortest refresh interval is 5
/// minutes, so a refresh runs at most a minute late.
const CHECK_EVERY: Duration = Duration::from_secs(60);

/// Runs until `stop` turns true.
pub(crate) async fn run(
    provisioner: Provisioner,
    fetcher: Fetcher,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        match provisioner
            .refresh_due_metadata(&fetcher, OffsetDateTime::now_utc())
            .await
        {
            Ok(done) => {
                for (org, outcome) in &done {
                    tracing::info!(
                        org = org.get(),
                        result = outcome.reason(),
                        "IdP metadata refreshed from its URL"
                    );
                }
            }
            Err(e) => tracing::error!(reason = e.reason(), "metadata refresh pass failed: {e}"),
        }
    }
}
