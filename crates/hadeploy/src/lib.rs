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
    /// Where the Ansible project is generated [default: hadeploy-work]. The
    /// folder is created, or must be one this tool created before.
    #[arg(long = "workingFolder", value_name = "DIR", alias = "working-folder")]
    pub working_folder: Option<PathBuf>,
    /// Arguments passed on to `ansible-playbook`, after `--`
    /// (e.g. `-- --check --diff`, `-- --limit en1`, `-- -v`).
    #[arg(last = true, value_name = "ANSIBLE_ARGS")]
    pub ansible_args: Vec<String>,
}

/// The working folder when `--workingFolder` is not given.
pub const DEFAULT_WORKING_FOLDER: &str = "hadeploy-work";

/// Exit code when `ansible-playbook` cannot be started.
pub const EXIT_NO_ANSIBLE: u8 = 3;

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

impl Action {
    /// The playbook that carries out this action.
    pub fn playbook(self) -> Option<&'static str> {
        match self {
            Action::Deploy => Some("deploy.yml"),
            Action::Remove => Some("remove.yml"),
            Action::Start => Some("start.yml"),
            Action::Stop => Some("stop.yml"),
            Action::Status => Some("status.yml"),
            Action::None => None,
        }
    }
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
    let dir = args
        .working_folder
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WORKING_FOLDER));
    let opts = hadeploy_codegen::Options {
        project_dir: Some(dir.clone()),
        source_dir: std::env::current_dir().ok(),
        ..hadeploy_codegen::Options::default()
    };
    let project = match hadeploy_codegen::render(&model, &opts) {
        Ok(project) => project,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = hadeploy_codegen::write(&project, &dir) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let Some(playbook) = action.playbook() else {
        eprintln!("generated the Ansible project in `{}`", dir.display());
        return ExitCode::SUCCESS;
    };
    run_playbook(&dir, playbook, &args.ansible_args)
}

/// Runs `ansible-playbook` in the generated project, its output streamed as
/// it comes, and returns its exit status.
fn run_playbook(dir: &std::path::Path, playbook: &str, extra: &[String]) -> ExitCode {
    let program = std::env::var_os("HADEPLOY_ANSIBLE_PLAYBOOK").unwrap_or_else(|| "ansible-playbook".into());
    let status = std::process::Command::new(&program)
        .current_dir(dir)
        .arg(playbook)
        .args(extra)
        .status();
    match status {
        Ok(status) => match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => {
                eprintln!("error: `ansible-playbook` was killed by a signal");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: cannot run `{}`: {e}", program.to_string_lossy());
            eprintln!(
                "help: install Ansible (`pip install ansible-core`), or set HADEPLOY_ANSIBLE_PLAYBOOK to its path; \
                 the project is ready in `{}`",
                dir.display()
            );
            ExitCode::from(EXIT_NO_ANSIBLE)
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
