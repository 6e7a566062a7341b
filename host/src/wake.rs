//! Wake-up calls between the stages of one instance: new events for the pipeline, new deliveries for the
//! delivery worker. Only a hint to look now: the database stays the source of truth, and idle workers look
//! on their own every `workers.poll_interval_ms` (which is how they find work of other instances).

use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Wakeups {
    pub events: Arc<Notify>,
    pub deliveries: Arc<Notify>,
}
