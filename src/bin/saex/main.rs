//! The `saex` command: parses arguments, runs one library call, maps the outcome to an exit code.
//! Exit codes: 0 all done; 1 some inputs failed (the others were processed); 2 usage or fatal error;
//! 130 stopped by Ctrl-C (finished outputs kept, nothing partial at a final path).

mod batch;
mod common;
mod eval;
mod extract;
mod info;
mod live;
mod output;
mod render;
mod serve;
mod train;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "saex",
    version,
    about = "Extract one instrument from a music mix",
    long_about = None,
    after_help = "Examples:
  saex extract song.mp3                      (writes song.vocals.wav beside it)
  saex extract --mix song.mp3 --out vocals.wav --residual accompaniment.wav
  saex batch --in mixes/ --out separated/
  saex info                                  (the default model and where models are found)
  saex serve                                 (a web page at http://127.0.0.1:8080/)

'saex <COMMAND> --help' describes each command; exit codes: 0 done, 1 some inputs failed, 2 error, 130 interrupted."
)]
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
    Live(live::LiveArgs),
    Serve(serve::ServeArgs),
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

fn main() {
    keep_freed_memory_for_reuse();
    exit_without_teardown(run_main())
}

/// Tells glibc's allocator to keep freed memory for the next allocation instead of handing it
/// back to the kernel. By default every block over 128 KiB to 32 MiB (the threshold moves with
/// use) is mapped afresh and unmapped on free, and the heap's top is trimmed past 128 KiB: the
/// pipeline's per-batch buffers (1 to 4 MiB each, on several threads) then fault in their
/// pages again and again, about 150 000 page faults and 0.3 s of CPU in a 3-minute extraction.
/// With mapping only above 32 MiB and trimming only above 32 MiB the same run takes about
/// 35 000 faults at the same peak memory (docs/benchmarks.md: either setting alone is worse
/// than neither; a trim threshold of 8 MiB gives the faults back; a batch of two files at once
/// peaks about 80 MB higher, its arenas keeping their free blocks).
fn keep_freed_memory_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes two allocator parameters; it is called before any thread
    // of this program starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
    }
}

/// Ends the process with `code` without the C++ static destructors that `exit` would run:
/// LibTorch's unregister its thousands of operators, about 60 ms of every command (a tenth of
/// a 3-minute extraction's wall time on 2 cores). Every command has closed, flushed and moved
/// its files into place before it returns, and stdout and stderr are flushed here.
fn exit_without_teardown(code: ExitCode) -> ! {
    use std::io::Write;
    let status = (0..=u8::MAX)
        .find(|&n| ExitCode::from(n) == code)
        .map_or(1, i32::from);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process at once; nothing of this process runs after it, and the
    // kernel closes its descriptors and frees its memory.
    unsafe { libc::_exit(status) }
}

fn run_main() -> ExitCode {
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

/// For commands that only print text: a reader that closes the pipe early (`saex info | head`)
/// ends the process quietly, as it would any Unix text tool, instead of a panic in `println!`.
/// Not for the audio commands: they may hold a temporary output file, and report a closed
/// `--out -` as an error after removing it.
fn quiet_on_closed_stdout() {
    // SAFETY: restoring the default disposition of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let prints_text_only = match &cli.command {
        Command::Info(_) | Command::Completions { .. } | Command::Man => true,
        Command::Render(args) => args.print_stem_map,
        _ => false,
    };
    if prints_text_only {
        quiet_on_closed_stdout();
    }
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
        Command::Live(args) => live::run(args),
        // The server keeps SIGPIPE ignored: a browser that closes a connection is an error on
        // that connection only.
        Command::Serve(args) => serve::run(args),
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
                Shell::Elvish => clap_complete::Shell::Elvish,
                Shell::Powershell => clap_complete::Shell::PowerShell,
            };
            let mut command = with_completion_values(
                Cli::command(),
                &device_choices(),
                &saex::locate::models_by_name(),
            );
            clap_complete::generate(shell, &mut command, "saex", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            std::io::Write::write_all(&mut std::io::stdout().lock(), man_page()?.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The devices to offer for `--device`: auto, cpu, cuda, and cuda:N for each GPU here.
fn device_choices() -> Vec<String> {
    let mut choices: Vec<String> = ["auto", "cpu", "cuda"].map(String::from).to_vec();
    choices.extend((0..tch::Cuda::device_count()).map(|i| format!("cuda:{i}")));
    choices
}

/// `command` with `devices` and `models` as the values completed for every `--device` and
/// `--model` (hidden from the help): shells would otherwise offer file names there. A model
/// folder can still be typed as a path.
fn with_completion_values(
    mut command: clap::Command,
    devices: &[String],
    models: &[String],
) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    for name in names {
        command = command.mut_subcommand(&name, |mut sub| {
            let args: Vec<(String, Vec<String>)> = sub
                .get_arguments()
                .filter_map(|a| match a.get_long() {
                    Some("device") => Some((a.get_id().to_string(), devices.to_vec())),
                    Some("model") => Some((a.get_id().to_string(), models.to_vec())),
                    _ => None,
                })
                .collect();
            for (id, values) in args {
                // clap takes &'static values; this runs once per process.
                let values: Vec<clap::builder::PossibleValue> = values
                    .into_iter()
                    .map(|v| clap::builder::PossibleValue::new(&*Box::leak(v.into_boxed_str())))
                    .collect();
                sub = sub.mut_arg(id, |a| {
                    a.value_parser(clap::builder::PossibleValuesParser::new(values))
                        .hide_possible_values(true)
                });
            }
            sub
        });
    }
    command
}

/// The manual page: the command, then each subcommand's options, as one roff document. The
/// list of subcommands names them as `saex extract` (their sections follow on this page; no
/// saex-extract(1) page is installed), and the examples keep their lines (no-fill) instead of
/// being reflowed into a paragraph.
fn man_page() -> anyhow::Result<String> {
    let command = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    let mut names = Vec::new();
    for sub in command.get_subcommands() {
        names.push(sub.get_name().to_string());
        if sub.is_hide_set() {
            continue;
        }
        // clap takes &'static names; this runs once per process.
        let name: &'static str = Box::leak(format!("saex-{}", sub.get_name()).into_boxed_str());
        clap_mangen::Man::new(sub.clone().name(name)).render(&mut out)?;
    }
    names.push("help".to_string());
    let mut page = String::from_utf8(out)?;
    for name in &names {
        let roff_name = name.replace('-', "\\-");
        page = page.replace(
            &format!("saex\\-{roff_name}(1)\n"),
            &format!("saex {roff_name}\n"),
        );
    }
    // Examples: from `.SH EXTRA` to the first blank line or request, line by line.
    let mut kept = String::new();
    let mut in_examples = false;
    for line in page.lines() {
        if in_examples && (line.is_empty() || line.starts_with('.')) {
            kept.push_str(".fi\n");
            in_examples = false;
        }
        kept.push_str(line);
        kept.push('\n');
        if line == ".SH EXTRA" {
            kept.push_str(".nf\n");
            in_examples = true;
        }
    }
    if in_examples {
        kept.push_str(".fi\n");
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `saex ...` commands in `text`: each line (joined over trailing backslashes), each
    /// part of a pipeline, up to a redirection or a `(comment)`, split into words as a shell
    /// would (quotes '...' and "...").
    fn commands(text: &str) -> Vec<Vec<String>> {
        let joined = text.replace("\\\n", " ");
        let mut out = Vec::new();
        for line in joined.lines() {
            for part in line.split(['|', ';']) {
                let part = part.trim().trim_start_matches('$').trim();
                if !part.starts_with("saex ") {
                    continue;
                }
                let part = part.split(" > ").next().unwrap_or(part);
                let part = part.split("  (").next().unwrap_or(part);
                let part = part.split(" && ").next().unwrap_or(part);
                let mut words = Vec::new();
                let mut word = String::new();
                let mut quote = None;
                let mut in_word = false;
                for c in part.chars() {
                    match (quote, c) {
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), c) => word.push(c),
                        (None, '\'' | '"') => {
                            quote = Some(c);
                            in_word = true;
                        }
                        (None, c) if c.is_whitespace() => {
                            if in_word {
                                words.push(std::mem::take(&mut word));
                                in_word = false;
                            }
                        }
                        (None, c) => {
                            word.push(c);
                            in_word = true;
                        }
                    }
                }
                if in_word {
                    words.push(word);
                }
                out.push(words);
            }
        }
        out
    }

    /// Bash completes `--device` with the devices and `--model` with the models found (was:
    /// file names for both).
    #[test]
    fn completion_offers_devices_and_models_not_files() {
        let devices = ["auto", "cpu", "cuda"].map(String::from);
        let models = ["bass", "drums", "vocals"].map(String::from);
        let mut command = with_completion_values(Cli::command(), &devices, &models);
        let mut script = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut command,
            "saex",
            &mut script,
        );
        let script = String::from_utf8(script).unwrap();
        let mut seen = (0, 0);
        let lines: Vec<&str> = script.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let next = lines.get(i + 1).copied().unwrap_or_default();
            match line.trim() {
                "--device)" => {
                    assert!(next.contains(r#"compgen -W "auto cpu cuda""#), "{next}");
                    seen.0 += 1;
                }
                "--model)" => {
                    assert!(next.contains(r#"compgen -W "bass drums vocals""#), "{next}");
                    seen.1 += 1;
                }
                _ => {}
            }
        }
        // extract, batch, train, eval, live, serve; extract, batch, info, eval, live.
        assert!(seen.0 >= 5 && seen.1 >= 5, "{seen:?}");
        // The help does not list the values.
        let help = Cli::command()
            .find_subcommand_mut("extract")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(!help.contains("[possible values: auto"), "{help}");
    }

    /// The manual page points to no saex-extract(1) page (none is installed: the sections
    /// follow on the same page), and its examples keep their lines (was: reflowed).
    #[test]
    fn the_man_page_names_no_missing_pages_and_keeps_the_examples() {
        let page = man_page().unwrap();
        assert!(
            !page.contains("saex\\-extract(1)"),
            "a saex-extract(1) reference"
        );
        assert!(page.contains("\n.TP\nsaex extract\n"), "{page}");
        let examples = page
            .split(".SH EXTRA\n")
            .nth(1)
            .expect("an examples section");
        assert!(examples.starts_with(".nf\nExamples:\n"), "{examples}");
        let block = examples.split(".fi\n").next().unwrap();
        assert!(
            block.contains("  saex extract song.mp3  ") && !block.contains("\n."),
            "{block}"
        );
        // Rendered at 80 columns, each example is a line of its own.
        let rendered = std::process::Command::new("groff")
            .args(["-man", "-Tutf8", "-rLL=80n"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(page.as_bytes())?;
                child.wait_with_output()
            });
        if let Ok(out) = rendered {
            let text = String::from_utf8_lossy(&out.stdout).replace(['\u{8}'], "");
            assert!(
                text.lines().any(|l| l
                    .trim_end()
                    .ends_with("saex batch --in mixes/ --out separated/")),
                "{text}"
            );
        }
    }

    /// Every flag and argument of every command says what it does.
    #[test]
    fn every_flag_is_described() {
        let command = Cli::command();
        let mut commands = vec![command.clone()];
        commands.extend(command.get_subcommands().cloned());
        for sub in &commands {
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(
                    help.len() > 8,
                    "saex {} --{id}: no description",
                    sub.get_name()
                );
            }
        }
    }

    /// Every example of every help text, and every command in the README's code blocks, parses
    /// as written: known flags, valid values, no conflicts, nothing required missing.
    #[test]
    fn examples_parse_as_written() {
        let command = Cli::command();
        let mut texts: Vec<(String, String)> = Vec::new();
        let mut helps = vec![command.clone()];
        helps.extend(command.get_subcommands().cloned());
        for mut sub in helps {
            let name = sub.get_name().to_string();
            let help = sub.render_long_help().to_string();
            if let Some((_, examples)) = help.split_once("Examples:") {
                texts.push((format!("saex {name} --help"), examples.to_string()));
            }
        }
        let readme = include_str!("../../../README.md");
        let mut blocks = String::new();
        let mut in_block = false;
        for line in readme.lines() {
            if line.starts_with("```") {
                in_block = !in_block;
            } else if in_block {
                blocks.push_str(line);
                blocks.push('\n');
            }
        }
        texts.push(("README.md".to_string(), blocks));
        let mut nb_checked = 0;
        for (source, text) in &texts {
            for words in commands(text) {
                if let Err(err) = Cli::command().try_get_matches_from(&words) {
                    panic!("{source}: `{}` does not parse:\n{err}", words.join(" "));
                }
                nb_checked += 1;
            }
        }
        assert!(nb_checked >= 30, "only {nb_checked} examples found");
    }
}
