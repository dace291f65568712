//! The `cclive` executable: parse, run, and turn the outcome into an exit code (nowhere else).

use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_on_a_closed_stdout();
    let cli = cclive::cli::Cli::from_process();
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

/// `cclive budget | head -1`: the reader went away, which is no error of ours. `println!` panics
/// on a broken pipe (Rust ignores SIGPIPE); a command that writes through `?` already ends
/// quietly above, and this ends the others the same way instead of printing a panic.
fn quiet_on_a_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
