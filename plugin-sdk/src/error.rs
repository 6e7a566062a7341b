//! The error a plugin returns: its message, and whether retrying may help.

/// Whether a failed event may succeed if Gancho tries again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The event or the configuration cannot be handled; retrying will not help.
    Permanent,
    /// Something may succeed later; Gancho retries on its delivery schedule.
    Transient,
}

/// Why a plugin could not map an event. The message is shown to operators on the delivery, so say what is
/// wrong and what to change: `config field "sheet_id" is missing; set it to the spreadsheet's id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: String,
}

impl PluginError {
    /// An error that retrying will not fix (bad data, bad configuration).
    pub fn permanent(message: impl Into<String>) -> PluginError {
        PluginError { kind: ErrorKind::Permanent, message: message.into() }
    }

    /// An error that may go away if the event is tried again later.
    pub fn transient(message: impl Into<String>) -> PluginError {
        PluginError { kind: ErrorKind::Transient, message: message.into() }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ErrorKind::Permanent => "permanent",
            ErrorKind::Transient => "transient",
        };
        write!(f, "{kind} plugin error: {}", self.message)
    }
}

impl std::error::Error for PluginError {}
