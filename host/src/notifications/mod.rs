//! Telling a customer that a subscription started failing, and that it recovered: by e-mail (through the
//! configured SMTP server) and/or to a webhook of hers (a signed JSON POST), once per change, by one
//! instance. Anchors: Svix's operational webhooks, Zapier's failure e-mails.

mod message;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::now_millis;
use crate::delivery::client::{HttpSender, SendRequest};
use crate::store::{FailureChange, Store};

pub use message::Message;

/// Where a subscription's failures are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// An e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// An http(s) URL that receives a signed JSON POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

impl Notify {
    /// Checks the addresses: `Err((field, message))` names the one at fault (`notify.email`).
    pub fn check(self) -> Result<Option<Notify>, (&'static str, String)> {
        if let Some(email) = &self.email
            && email.parse::<lettre::Address>().is_err()
        {
            return Err(("notify.email", format!("`{email}` is not an e-mail address like ana@example.com")));
        }
        if let Some(url) = &self.webhook_url {
            let valid = url.len() <= 2048
                && url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !valid {
                return Err(("notify.webhook_url", format!("`{url}` is not an absolute http(s) URL")));
            }
        }
        Ok((self.email.is_some() || self.webhook_url.is_some()).then_some(self))
    }
}

/// The `[notifications]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// The SMTP server e-mails go through: `smtp://host:25` (plain, a local relay),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`. Empty: no
    /// e-mail (webhooks are still told).
    pub smtp_url: String,
    /// The sender of the e-mails.
    pub from: String,
    /// How long a subscription must have been failing before it is told (so a single failed attempt that
    /// its retry fixes tells no one).
    pub failing_after_secs: u64,
    /// How often changes are looked for.
    pub interval_secs: u64,
}

impl Default for NotificationsConfig {
    fn default() -> NotificationsConfig {
        NotificationsConfig {
            smtp_url: String::new(),
            from: "Gancho <notifications@localhost>".to_owned(),
            failing_after_secs: 600,
            interval_secs: 10,
        }
    }
}

/// Sends what [`Store::claim_failure_changes`] hands out.
pub struct Notifier {
    pub store: Arc<dyn Store>,
    pub sender: HttpSender,
    pub config: NotificationsConfig,
}

impl Notifier {
    /// Looks for changes every `interval_secs` until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mailer = match self.config.smtp_url.as_str() {
            "" => None,
            url => match lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url) {
                Ok(builder) => Some(builder.timeout(Some(Duration::from_secs(15))).build()),
                Err(error) => {
                    tracing::error!(%error, "notifications.smtp_url is not usable; no e-mail is sent");
                    None
                }
            },
        };
        let interval = Duration::from_secs(self.config.interval_secs.max(1));
        while !stop.is_cancelled() {
            let failing_before = now_millis() - (self.config.failing_after_secs * 1000) as i64;
            match self.store.claim_failure_changes(failing_before, 50).await {
                Ok(changes) => {
                    for change in changes {
                        self.tell(&change, mailer.as_ref()).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot look for failing subscriptions; trying again"),
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    async fn tell(
        &self,
        change: &FailureChange,
        mailer: Option<&lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>,
    ) {
        let Ok(notify) = serde_json::from_str::<Notify>(&change.notify_json) else { return };
        let subscription = self.store.get_subscription(&change.tenant_id, &change.subscription_id).await;
        let Ok(Some(subscription)) = subscription else { return };
        let health = self.store.subscription_health(&subscription.id, now_millis() - 24 * 3600 * 1000).await;
        let message = Message::new(change, &subscription, health.ok().and_then(|h| h.last_failure));
        if let (Some(email), Some(mailer)) = (&notify.email, mailer) {
            use lettre::AsyncTransport;
            match message.email(&self.config.from, email) {
                Ok(mail) => {
                    if let Err(error) = mailer.send(mail).await {
                        tracing::warn!(%error, subscription = %subscription.id, "failure notification e-mail not sent");
                    }
                }
                Err(error) => tracing::warn!(%error, "failure notification e-mail could not be made"),
            }
        }
        if let Some(url) = &notify.webhook_url {
            let body = message.json();
            let id = crate::ids::new_id("msg");
            let timestamp = now_millis() / 1000;
            let Ok(signature) = crate::delivery::signing::sign(
                std::slice::from_ref(&subscription.secret),
                &id,
                timestamp,
                &body,
            ) else {
                return;
            };
            let headers = [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("webhook-id".to_owned(), id),
                ("webhook-timestamp".to_owned(), timestamp.to_string()),
                ("webhook-signature".to_owned(), signature),
            ];
            let outcome =
                self.sender.send(SendRequest { method: "POST", url, headers: &headers, body: &body }).await;
            if !outcome.is_success() {
                tracing::warn!(
                    subscription = %subscription.id, status = ?outcome.status, error = ?outcome.error,
                    "failure notification webhook not accepted"
                );
            }
        }
    }
}
