//! `pgdiplomat completions SHELL` and `pgdiplomat man`: shell completion scripts and manual
//! pages generated from the same clap definition that parses the command line, so they never
//! drift from the real flags.

use std::path::PathBuf;

use clap::CommandFactory;

use crate::input::{error, print_stdout};
use crate::{EXIT_CLEAN, EXIT_USAGE};

const BIN_NAME: &str = "pgdiplomat";

#[derive(clap::Args, Debug)]
#[command(
    long_about = "Print a shell completion script for pgdiplomat on standard output.",
    after_help = "Examples:\n  \
pgdiplomat completions bash > ~/.local/share/bash-completion/completions/pgdiplomat\n  \
pgdiplomat completions zsh > \"${fpath[1]}/_pgdiplomat\"\n  \
pgdiplomat completions fish > ~/.config/fish/completions/pgdiplomat.fish\n  \
pgdiplomat completions powershell >> $PROFILE"
)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
#[command(
    long_about = "Print the manual page of pgdiplomat (roff, section 1) on standard output, or, with \
--out-dir, write one page per command (pgdiplomat.1, pgdiplomat-lint.1, ...) into a directory.",
    after_help = "Examples:\n  pgdiplomat man | man -l -\n  pgdiplomat man --out-dir /usr/local/share/man/man1"
)]
pub struct ManArgs {
    /// Write pgdiplomat.1 and one page per subcommand into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// The top-level command, as parsed by `main`.
fn command() -> clap::Command {
    crate::cli::Cli::command()
}

/// `pgdiplomat completions SHELL`.
pub fn run(args: CompletionsArgs) -> u8 {
    let mut cmd = command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN_NAME, &mut buf);
    match String::from_utf8(buf) {
        Ok(script) => match print_stdout(&script) {
            Ok(()) => EXIT_CLEAN,
            Err(()) => EXIT_USAGE,
        },
        Err(_) => {
            error("the completion script is not UTF-8");
            EXIT_USAGE
        }
    }
}

/// `pgdiplomat man [--out-dir DIR]`.
pub fn run_man(args: ManArgs) -> u8 {
    let cmd = command();
    match args.out_dir {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                error(format!("cannot create {}: {e}", dir.display()));
                return EXIT_USAGE;
            }
            match clap_mangen::generate_to(cmd, &dir) {
                Ok(()) => EXIT_CLEAN,
                Err(e) => {
                    error(format!(
                        "cannot write manual pages to {}: {e}",
                        dir.display()
                    ));
                    EXIT_USAGE
                }
            }
        }
        None => {
            let mut buf = Vec::new();
            if let Err(e) = clap_mangen::Man::new(cmd).render(&mut buf) {
                error(format!("cannot render the manual page: {e}"));
                return EXIT_USAGE;
            }
            match print_stdout(&String::from_utf8_lossy(&buf)) {
                Ok(()) => EXIT_CLEAN,
                Err(()) => EXIT_USAGE,
            }
        }
    }
}
