//! The `cclive` executable: parse, run, and turn the outcome into an exit code (nowhere else).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cclive::cli::Cli::parse();
    match cclive::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if cclive::errors::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("cclive: error: {err:#}");
            if let Some(hint) = cclive::errors::hint_for(&err) {
                eprintln!("cclive: {hint}");
            }
            ExitCode::from(cclive::errors::exit_code_for(&err))
        }
    }
}
