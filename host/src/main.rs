//! The `snapshot-host` binary; everything lives in the library (`cli`).

fn main() -> std::process::ExitCode {
    snapshot_host::cli::main()
}
