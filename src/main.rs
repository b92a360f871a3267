//! The `rolemirror` binary: sets up logging, parses the command line and hands over to
//! [`rolemirror::cli::run`], which decides the exit code (documented there).

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Before any thread starts: see util::memory.
    rolemirror::util::memory::configure();
    // RUST_LOG chooses the level, but the inference crates stay at warn whatever it says: at
    // debug they print tensors, and a tensor may hold a visitor's face (privacy invariant).
    let mut logger = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"));
    for module in [
        "tract_core",
        "tract_hir",
        "tract_onnx",
        "tract_onnx_opl",
        "tract_nnef",
        "tract_linalg",
        "tract_data",
        "tract_extra",
        "tract_transformers",
    ] {
        logger.filter_module(module, log::LevelFilter::Warn);
    }
    // The last warnings and errors are also kept in memory for the health report.
    let inner = logger.build();
    let max = inner.filter().max(log::LevelFilter::Warn);
    if log::set_boxed_logger(Box::new(rolemirror::util::logring::Tee::new(inner))).is_ok() {
        log::set_max_level(max);
    }
    let code = rolemirror::cli::run(rolemirror::cli::Cli::parse());
    std::process::ExitCode::from(code as u8)
}
