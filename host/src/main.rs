//! The `gancho` command line; everything it does lives in the library (`gancho::cli`).

fn main() -> std::process::ExitCode {
    gancho::cli::main()
}
