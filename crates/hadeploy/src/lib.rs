//! The `hadeploy` command line: HADeploy's compatible form
//! (`--src ... --action ACTION`) and the subcommands beside it. The argument
//! structs live here, not in `main.rs`, so tests can drive them.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hadeploy_model::{Model, SrcArg};

/// Deploys supervisord instances and their programs on Linux hosts with
/// Ansible, from a short YAML description.
#[derive(Debug, Parser)]
#[command(name = "hadeploy", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// The compatible form: `--src FILE... --action ACTION`.
    #[command(flatten)]
    pub run: RunArgs,
    /// A subcommand instead of `--action`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Sources of the description, shared by every form.
#[derive(Debug, Args, Clone)]
pub struct SrcArgs {
    /// A description file, or `name=value` to define a variable; repeatable,
    /// loaded and merged in order.
    #[arg(long = "src", value_name = "FILE|NAME=VALUE", required = true)]
    pub src: Vec<String>,
}

impl SrcArgs {
    fn parsed(&self) -> Vec<SrcArg> {
        self.src.iter().map(|s| SrcArg::parse(s)).collect()
    }
}

/// `hadeploy --src ... --action ACTION`.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// A description file, or `name=value` to define a variable; repeatable,
    /// loaded and merged in order.
    #[arg(long = "src", value_name = "FILE|NAME=VALUE")]
    pub src: Vec<String>,
    /// What to do on the hosts.
    #[arg(long, value_enum)]
    pub action: Option<Action>,
    /// Where the Ansible project is generated.
    #[arg(long = "workingFolder", value_name = "DIR", alias = "working-folder")]
    pub working_folder: Option<PathBuf>,
}

/// The actions of the compatible form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Action {
    /// Install and start everything described.
    Deploy,
    /// Stop and remove everything described, but `no_remove` items.
    Remove,
    /// Start supervisors, then programs.
    Start,
    /// Stop programs, then supervisors.
    Stop,
    /// Show the state of every supervisor and program.
    Status,
    /// Check the description and generate the project; run nothing.
    None,
}

/// Subcommands beside the compatible form.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the description and print the resolved model: every default
    /// applied, variables substituted, overrides and scopes resolved.
    Dump {
        /// The description.
        #[command(flatten)]
        src: SrcArgs,
    },
}

/// Runs the command line; the exit code is 0 on success, 1 when the
/// description is invalid, 2 on a usage error.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::Dump { src }) => match load(&src.parsed()) {
            Some(model) => {
                let json = serde_json::to_string_pretty(&model).expect("the model serializes");
                let _ = writeln!(std::io::stdout(), "{json}");
                ExitCode::SUCCESS
            }
            None => ExitCode::FAILURE,
        },
        None => run_action(&cli.run),
    }
}

fn run_action(args: &RunArgs) -> ExitCode {
    let (false, Some(action)) = (args.src.is_empty(), args.action) else {
        eprintln!("error: give the description and an action: `hadeploy --src app.yml --action deploy`");
        eprintln!("help: `hadeploy --help` lists the actions and subcommands");
        return ExitCode::from(2);
    };
    let srcs: Vec<SrcArg> = args.src.iter().map(|s| SrcArg::parse(s)).collect();
    let Some(model) = load(&srcs) else {
        return ExitCode::FAILURE;
    };
    match action {
        Action::None => {
            eprintln!(
                "ok: {} host(s), {} supervisor(s), {} program(s)",
                model.hosts.len(),
                model.supervisors.len(),
                model.supervisors.iter().map(|s| s.programs.len()).sum::<usize>()
            );
            ExitCode::SUCCESS
        }
        other => {
            eprintln!(
                "error: `--action {}` needs the Ansible project generator, which this build does not include",
                other.to_possible_value().expect("no skipped variants").get_name()
            );
            eprintln!("help: `--action none` checks the description; `hadeploy dump` prints the resolved model");
            ExitCode::FAILURE
        }
    }
}

fn load(srcs: &[SrcArg]) -> Option<Model> {
    match hadeploy_model::load(srcs) {
        Ok(model) => Some(model),
        Err(diags) => {
            eprintln!("{diags}");
            None
        }
    }
}
