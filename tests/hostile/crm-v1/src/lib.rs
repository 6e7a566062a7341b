//! Version 1 of the test CRM mapping: the event as JSON (`id`, `type`, `tenant`).
const VERSION: u32 = 1;
include!("../../crm-mapping.rs");
