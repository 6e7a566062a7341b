//! A plugin importing what Gancho does not provide is refused by reading its imports, before it is
//! compiled: a large component (a JavaScript one is 12 MB and compiles for many seconds) is turned away in
//! milliseconds, with an error that names the import and lists what is allowed.

mod support;

use std::time::{Duration, Instant};

use gancho::runtime::{LoadError, Runtime, RuntimeSettings};
use wasm_encoder::{
    CodeSection, Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection, Function,
    FunctionSection, InstanceSection, InstanceType, Instruction, Module, ModuleArg, ModuleSection,
    TypeSection,
};

/// A component with a core module of `functions` functions of `body_len` additions each (which Cranelift
/// takes a while to compile) and the top-level import `import`, placed after the module.
fn heavy_component(import: &str, functions: u32, body_len: u32) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([wasm_encoder::ValType::I32], [wasm_encoder::ValType::I32]);
    let mut declared = FunctionSection::new();
    let mut code = CodeSection::new();
    for _ in 0..functions {
        declared.function(0);
        let mut body = Function::new([]);
        for k in 0..body_len {
            body.instruction(&Instruction::LocalGet(0))
                .instruction(&Instruction::I32Const(k as i32))
                .instruction(&Instruction::I32Mul)
                .instruction(&Instruction::I32Const(7))
                .instruction(&Instruction::I32Add)
                .instruction(&Instruction::LocalSet(0));
        }
        body.instruction(&Instruction::LocalGet(0)).instruction(&Instruction::End);
        code.function(&body);
    }
    let mut module = Module::new();
    module.section(&types).section(&declared).section(&code);

    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    let mut instances = InstanceSection::new();
    instances.instantiate(0, Vec::<(&str, ModuleArg)>::new());
    component.section(&instances);
    let mut component_types = ComponentTypeSection::new();
    component_types.instance(&InstanceType::new());
    component.section(&component_types);
    let mut imports = ComponentImportSection::new();
    imports.import(import, ComponentTypeRef::Instance(0));
    component.section(&imports);
    component.finish()
}

/// Big enough that compiling it takes seconds on the 2-core machines we test on (over a second and twenty
/// times the early refusal, checked by
/// `compiling_the_heavy_component_takes_seconds`, so that the refusal below means something).
const FUNCTIONS: u32 = 400;
const BODY_LEN: u32 = 3_000;

fn runtime() -> Runtime {
    Runtime::new(RuntimeSettings::default()).expect("runtime starts")
}

#[test]
fn a_forbidden_import_in_a_large_component_is_refused_before_compiling() {
    let wasm = heavy_component("acme:net/sockets@0.1.0", FUNCTIONS, BODY_LEN);
    let runtime = runtime();
    let started = Instant::now();
    let Err(error) = runtime.load(&wasm) else { panic!("a plugin importing acme:net/sockets must not load") };
    let took = started.elapsed();
    assert!(
        matches!(&error, LoadError::UnsupportedImport { import } if import == "acme:net/sockets@0.1.0"),
        "{error:?}"
    );
    assert!(took < Duration::from_secs(1), "refused after {took:?}: the component was compiled first");
    let message = error.to_string();
    assert!(message.contains("`acme:net/sockets@0.1.0`"), "{message}");
    assert!(message.contains("gancho:plugin/log@"), "the allowed imports are listed: {message}");
    assert!(message.contains("wasi:clocks"), "the allowed imports are listed: {message}");
}

#[test]
fn compiling_the_heavy_component_takes_seconds() {
    // The same component with a granted import: it passes the early check and is compiled (then refused
    // for its missing `transform`). This is what the refusal above spares. Compared with that refusal,
    // timed in the same test, rather than with a fixed bar alone: how long compiling takes moves with the
    // machine (2.9 s on a fast hour here, where a 3 s bar failed).
    let runtime = runtime();
    let refused = heavy_component("acme:net/sockets@0.1.0", FUNCTIONS, BODY_LEN);
    let started = Instant::now();
    assert!(runtime.load(&refused).is_err(), "a plugin importing acme:net/sockets must not load");
    let refusing = started.elapsed();

    let wasm = heavy_component("wasi:random/random@0.2.6", FUNCTIONS, BODY_LEN);
    let started = Instant::now();
    let error = runtime.load(&wasm).err().expect("no transform export");
    let took = started.elapsed();
    assert!(matches!(error, LoadError::WrongExports(_)), "{error:?}");
    eprintln!("compiling the heavy component took {took:?}, refusing it {refusing:?}");
    assert!(took >= Duration::from_secs(1), "compiling took only {took:?}: make the component heavier");
    assert!(
        took >= refusing * 20,
        "compiling took {took:?}, refusing {refusing:?}: the refusal should spare the compile"
    );
}

#[test]
fn a_core_module_is_refused_with_what_to_do() {
    let mut module = Module::new();
    module.section(&TypeSection::new());
    let error = runtime().load(&module.finish()).err().expect("a core module is refused");
    assert!(matches!(error, LoadError::Malformed(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("core WebAssembly module") && message.contains("wasm32-wasip2"), "{message}");
}

#[test]
fn nested_modules_imports_are_not_the_plugins_imports() {
    // The real plugins' core modules import `wasi_snapshot_preview1` and the like inside the component;
    // only the component's own imports count.
    let runtime = runtime();
    for name in support::EXAMPLE_PLUGINS {
        if let Err(error) = runtime.load(&support::plugin_bytes(name)) {
            panic!("{name}: {error}");
        }
    }
}
