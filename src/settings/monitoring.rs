//! `[monitoring]` of `cluster.toml`.

use serde::Deserialize;

use super::values::{Email, Retention, SmtpHost};
use crate::quantity::Bytes;

/// `[monitoring]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSettings {
    /// How long Prometheus keeps samples.
    pub retention: Retention,
    /// Prometheus volume on Longhorn.
    pub prometheus_storage: Bytes,
    /// Alertmanager volume on Longhorn.
    pub alertmanager_storage: Bytes,
    /// Where Alertmanager sends notifications.
    pub alerting: AlertingSettings,
}

/// `[monitoring.alerting]` of `cluster.toml`: the e-mail receiver every alert reaches (the
/// SMTP password comes from the SOPS Secret `alertmanager-smtp`, key `password`, of the
/// `platform` scope; never from settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingSettings {
    /// Recipient of every notification.
    pub email_to: Email,
    /// Sender address.
    pub email_from: Email,
    /// SMTP server, `host:port` (submission port 587 with STARTTLS, or 465).
    pub smtp_smarthost: SmtpHost,
    /// SMTP login.
    pub smtp_username: String,
}
