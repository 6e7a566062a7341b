//! The `gancho` command line; everything it does lives in the library (`gancho::cli`).

/// mimalloc rather than the system allocator: the service's threads allocate and free many small buffers
/// per event (see docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gancho::cli::main()
}
