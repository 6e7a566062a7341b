//! Version 2 of the test CRM mapping: `type` renamed to `event_type`.
const VERSION: u32 = 2;
include!("../../crm-mapping.rs");
