//! Delivery: claiming due deliveries from the store — in their lanes (ordering key, tenant share) and
//! within their destinations' budgets — signing them, checking their destination, sending them, and
//! recording the attempt with the next retry or the final state. Deliveries a commit may hand straight to
//! this instance's worker skip the claim (see [`capacity`]).

pub mod budgets;
pub mod capacity;
pub mod client;
pub mod guard;
pub mod lanes;
pub mod retry;
pub mod signing;
pub mod worker;
