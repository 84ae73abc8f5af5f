//! The `saex` command: parses arguments, runs one library call, maps the outcome to an exit code.
//! Exit codes: 0 all done; 1 some inputs failed (the others were processed); 2 usage or fatal error;
//! 130 stopped by Ctrl-C (finished outputs kept, nothing partial at a final path).

mod batch;
mod common;
mod eval;
mod extract;
mod info;
mod output;
mod render;
mod train;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "saex", version, about = "Extract one instrument from a music mix", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Extract(extract::ExtractArgs),
    Batch(batch::BatchArgs),
    Render(render::Args),
    /// Train a model layer by layer from paired stems
    Train(Box<train::Args>),
    /// Print a model's configuration and training summary (without --model: the default model
    /// and where models are looked for)
    Info(info::Args),
    Eval(eval::Args),
    /// Print a shell completion script: saex completions bash > /etc/bash_completion.d/saex
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the manual page (roff): saex man > saex.1 && man ./saex.1
    Man,
}

/// Shells that completions are generated for.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli, &matches) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("saex: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Extract(args) => extract::run(args),
        Command::Batch(args) => batch::run(args),
        Command::Render(args) => render::run(args),
        Command::Train(args) => {
            let matches = matches
                .subcommand_matches("train")
                .expect("train was parsed");
            train::run(*args, matches)
        }
        Command::Info(args) => info::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
                Shell::Elvish => clap_complete::Shell::Elvish,
                Shell::Powershell => clap_complete::Shell::PowerShell,
            };
            clap_complete::generate(shell, &mut Cli::command(), "saex", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            // One page: the command, then each subcommand's options.
            let command = Cli::command();
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command.clone()).render(&mut out)?;
            for sub in command.get_subcommands() {
                if sub.is_hide_set() {
                    continue;
                }
                // clap takes &'static names; this runs once per process.
                let name: &'static str =
                    Box::leak(format!("saex-{}", sub.get_name()).into_boxed_str());
                clap_mangen::Man::new(sub.clone().name(name)).render(&mut out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
