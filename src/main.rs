//! The `embplan` command line: parse arguments, call the library, print.

use std::io::Write;
use std::process::ExitCode;

mod cli;

/// Exit code after Ctrl-C or SIGTERM, as shells report a SIGINT death (128 + 2).
const EXIT_INTERRUPTED: i32 = 130;

fn main() -> ExitCode {
    remove_temp_files_on_interrupt();
    quiet_caught_decoder_panics();
    let cli = cli::Cli::parse_args();
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::from(cli::EXIT_BAD_INPUT)
        }
    }
}

/// On Ctrl-C, SIGTERM or SIGHUP, removes the temp files of writes in progress, then exits:
/// an interrupted run leaves the old output or none, never a partial or stray file.
fn remove_temp_files_on_interrupt() {
    let installed = ctrlc::set_handler(|| {
        embplan::output::remove_pending_temp_files();
        std::process::exit(EXIT_INTERRUPTED);
    });
    if let Err(e) = installed {
        let _ = writeln!(
            std::io::stderr(),
            "warning: cannot watch for Ctrl-C ({e}); an interrupted write may leave a temp file"
        );
    }
}

/// The `parquet` crate panics on some corrupt files; embplan catches those panics and
/// reports the file as unreadable (exit 2), so the panic message itself is not printed.
/// Every other panic is printed as usual: it is a bug.
fn quiet_caught_decoder_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_parquet = info
            .location()
            .is_some_and(|l| l.file().contains("/parquet-"));
        if !in_parquet {
            default(info);
        }
    }));
}

/// A closed stdout (`embplan … | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
