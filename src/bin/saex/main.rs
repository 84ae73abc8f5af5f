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

use clap::{Parser, Subcommand};
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
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("saex: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Extract(args) => extract::run(args),
        Command::Batch(args) => batch::run(args),
        Command::Render(args) => render::run(args),
        Command::Train(args) => train::run(*args),
        Command::Info(args) => info::run(args),
        Command::Eval(args) => eval::run(args),
    }
}
