//! The instance pool's size, from what one plugin instance may need: a budget per instance of core
//! instances, memories and tables, times the number of instances. A plugin is checked against the budget
//! when it is loaded (at upload, before anything runs), so a full pool never surprises an event: every live
//! instance fits its budget, and there are never more instances than the pool holds.
//!
//! What plugins need (core instances / memories / tables, as `gancho plugin check` prints it): the Rust
//! Slack plugin 3 / 1 / 2; JavaScript with QuickJS 11 / 3 / 3; Python with componentize-py 14 / 1 / 2, and
//! 38 core instances built with `--stub-wasi`.

use wasmparser::{Instance, Parser, Payload};
use wasmtime::PoolingAllocationConfig;
use wasmtime::component::Component;

use super::error::LoadError;

/// What one plugin instance may use of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct InstanceBudget {
    /// Core wasm instances (every module a component instantiates).
    pub core_instances: u32,
    /// Linear memories defined by those modules.
    pub memories: u32,
    /// Tables defined by those modules.
    pub tables: u32,
}

impl Default for InstanceBudget {
    fn default() -> InstanceBudget {
        InstanceBudget { core_instances: 16, memories: 4, tables: 8 }
    }
}

/// Sizes `pool` for `max_instances` instances of at most `budget` each.
pub(crate) fn size(pool: &mut PoolingAllocationConfig, max_instances: u32, budget: InstanceBudget) {
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances * budget.core_instances)
        .total_memories(max_instances * budget.memories)
        .total_tables(max_instances * budget.tables)
        // The per-component limits are ours to check (with messages that say what to change); wasmtime's own
        // are set to the totals so that it never refuses first.
        .max_core_instances_per_component(max_instances * budget.core_instances)
        .max_memories_per_component(max_instances * budget.memories)
        .max_tables_per_component(max_instances * budget.tables);
}

/// Refuses, by reading the binary and before it is compiled (seconds for a large component), a plugin that
/// instantiates more core modules than `budget` allows; returns how many it instantiates.
pub(crate) fn check_binary(wasm: &[u8], budget: InstanceBudget) -> Result<u32, LoadError> {
    let core_instances = core_instances_in(wasm)?;
    over_budget("core instances", core_instances, budget.core_instances, "core_instances_per_instance")?;
    Ok(core_instances)
}

/// Refuses a compiled plugin whose modules define more memories or tables than `budget` allows; returns
/// what one instance of it uses.
pub(crate) fn check_compiled(
    component: &Component,
    core_instances: u32,
    budget: InstanceBudget,
) -> Result<InstanceBudget, LoadError> {
    // None only for components that import core modules, which the host never provides.
    let (memories, tables) =
        component.resources_required().map_or((0, 0), |needed| (needed.num_memories, needed.num_tables));
    over_budget("memories", memories, budget.memories, "memories_per_instance")?;
    over_budget("tables", tables, budget.tables, "tables_per_instance")?;
    Ok(InstanceBudget { core_instances, memories, tables })
}

fn over_budget(
    resource: &'static str,
    needed: u32,
    allowed: u32,
    setting: &'static str,
) -> Result<(), LoadError> {
    if needed <= allowed {
        return Ok(());
    }
    Err(LoadError::OverInstanceBudget { resource, needed, allowed, setting })
}

/// Core module instantiations in a component, nested components included.
pub(crate) fn core_instances_in(wasm: &[u8]) -> Result<u32, LoadError> {
    let mut count = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| LoadError::Malformed(e.to_string()))?;
        if let Payload::InstanceSection(instances) = payload {
            for instance in instances {
                let instance = instance.map_err(|e| LoadError::Malformed(e.to_string()))?;
                count += u32::from(matches!(instance, Instance::Instantiate { .. }));
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_budget_names_the_setting() {
        assert!(over_budget("core instances", 14, 16, "core_instances_per_instance").is_ok());
        let error = over_budget("core instances", 38, 16, "core_instances_per_instance").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("38 core instances") && message.contains("plugins.core_instances_per_instance"),
            "{message}"
        );
    }
}
