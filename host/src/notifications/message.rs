//! What a failure notification says: in an e-mail (Spanish and English, plain text) and as the JSON a
//! notification webhook receives.

use serde_json::json;

use crate::store::{FailureChange, LastFailure, Subscription};

/// One change of one subscription, ready to send.
pub struct Message {
    /// `subscription.failing` or `subscription.recovered`.
    pub kind: &'static str,
    pub tenant_id: String,
    pub subscription_id: String,
    /// The subscription's name, or its endpoint's host when it has none.
    pub label: String,
    pub failing_since: Option<String>,
    pub last_error: Option<String>,
}

impl Message {
    pub fn new(change: &FailureChange, subscription: &Subscription, last: Option<LastFailure>) -> Message {
        let host = crate::connections::hosts::host_of(&subscription.endpoint_url).unwrap_or_default();
        Message {
            kind: if change.failing_since.is_some() {
                "subscription.failing"
            } else {
                "subscription.recovered"
            },
            tenant_id: change.tenant_id.clone(),
            subscription_id: change.subscription_id.clone(),
            label: change.name.clone().unwrap_or(host),
            failing_since: change.failing_since.map(crate::clock::rfc3339),
            last_error: last.and_then(|failure| failure.error),
        }
    }

    fn failing(&self) -> bool {
        self.kind == "subscription.failing"
    }

    pub fn subject(&self) -> String {
        if self.failing() {
            format!("Tu webhook «{}» está fallando / Your webhook \"{}\" is failing", self.label, self.label)
        } else {
            format!(
                "Tu webhook «{}» volvió a funcionar / Your webhook \"{}\" works again",
                self.label, self.label
            )
        }
    }

    pub fn text(&self) -> String {
        let since = self.failing_since.as_deref().unwrap_or("-");
        let error = self.last_error.as_deref().unwrap_or("-");
        if self.failing() {
            format!(
                "Tu webhook «{label}» ({id}) no logra entregar desde {since}.\nÚltimo error: {error}\n\
                 Los envíos se reintentan solos; cuando lo arregles, se entregan. Puedes ver cada envío en el \
                 portal.\n\n\
                 Your webhook \"{label}\" ({id}) has been failing since {since}.\nLast error: {error}\n\
                 Deliveries are retried on their own and go out once it is fixed. Each one is in the portal.\n",
                label = self.label,
                id = self.subscription_id,
            )
        } else {
            format!(
                "Tu webhook «{label}» ({id}) volvió a entregar.\n\n\
                 Your webhook \"{label}\" ({id}) is delivering again.\n",
                label = self.label,
                id = self.subscription_id,
            )
        }
    }

    pub fn email(&self, from: &str, to: &str) -> Result<lettre::Message, String> {
        lettre::Message::builder()
            .from(from.parse().map_err(|e| format!("notifications.from `{from}`: {e}"))?)
            .to(to.parse().map_err(|e| format!("address `{to}`: {e}"))?)
            .subject(self.subject())
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            // Readable as sent (the texts are short lines); servers without 8BITMIME still relay it.
            .header(lettre::message::header::ContentTransferEncoding::EightBit)
            .body(self.text())
            .map_err(|e| e.to_string())
    }

    pub fn json(&self) -> Vec<u8> {
        json!({
            "type": self.kind,
            "tenant": self.tenant_id,
            "subscription": {"id": self.subscription_id, "name": self.label},
            "failing_since": self.failing_since,
            "last_error": self.last_error,
            "at": crate::clock::rfc3339(crate::clock::now_millis()),
        })
        .to_string()
        .into_bytes()
    }
}
