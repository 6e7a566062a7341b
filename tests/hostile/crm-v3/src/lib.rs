//! Version 3 of the test CRM mapping: version 1, failing on chat events.
const VERSION: u32 = 3;
include!("../../crm-mapping.rs");
