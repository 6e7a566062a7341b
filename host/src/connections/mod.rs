//! Connections: tenants' credentials for their destinations.

pub mod hosts;
