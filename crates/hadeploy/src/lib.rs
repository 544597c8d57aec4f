//! The `hadeploy` command line: HADeploy's compatible form
//! (`--src ... --action ACTION`) and the subcommands beside it. The argument
//! structs live here, not in `main.rs`, so tests can drive them.

mod child;
mod inventory;
pub mod logs;
mod plan;
mod status;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use hadeploy_codegen::Project;
use hadeploy_model::{Model, SrcArg};
use indexmap::IndexMap;

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
    /// A description file, or `name=value` to define a variable; repeatable
    /// (`--src a.yml --src b.yml` or `--src a.yml b.yml`), loaded and merged
    /// in order. `--var name=value` is the same.
    #[arg(long = "src", visible_alias = "var", value_name = "FILE|NAME=VALUE", num_args = 1..)]
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
    /// Run only these areas: `users`, `files`, `supervisor`, `all` or
    /// `none`; repeatable or comma-separated. Replaces the description's
    /// `included_scopes`. A host or group name (a `scope` as files and
    /// folders write it) runs the files and folders of that scope only.
    /// HADeploy's other scopes (`hdfs`, `kafka`...) are ignored with a warning.
    #[arg(long, value_delimiter = ',', value_name = "SCOPE")]
    pub scope: Vec<String>,
    /// Skip these areas, or the files and folders of these scopes;
    /// repeatable or comma-separated; added to the description's
    /// `excluded_scopes`.
    #[arg(long = "noScope", alias = "no-scope", value_delimiter = ',', value_name = "SCOPE")]
    pub no_scope: Vec<String>,
    /// Ask for the Ansible Vault password (`--ask-vault-pass`), for
    /// `encrypted_vars`.
    #[arg(long = "askVaultPassword", alias = "ask-vault-password")]
    pub ask_vault_password: bool,
    /// Read the Ansible Vault password from this file (`--vault-password-file`).
    #[arg(long = "vaultPasswordFile", alias = "vault-password-file", value_name = "FILE")]
    pub vault_password_file: Option<PathBuf>,
    /// Ansible's verbosity, as HADeploy's `--v`, `--vv`, `--vvv`.
    #[arg(long = "v", hide = true)]
    pub v: bool,
    /// See `--v`.
    #[arg(long = "vv", hide = true)]
    pub vv: bool,
    /// See `--v`.
    #[arg(long = "vvv", hide = true)]
    pub vvv: bool,
    /// How `--action status`, `logs` and `plan` report, on standard
    /// output [default: table].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Only these programs (or groups of programs), by name, comma-separated:
    /// `--action start`, `stop` and `restart` work on their processes only,
    /// whatever their described state, and leave the supervisors as they
    /// are; `status` reports them only; `logs` reads one program's.
    #[arg(long, value_name = "NAME[,NAME...]", value_delimiter = ',')]
    pub program: Vec<String>,
    /// `--action logs`: how many lines of each log, at most.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub lines: u32,
    /// `--action logs`: the error log (`stderr`) instead of the output.
    #[arg(long)]
    pub stderr: bool,
    /// `--action deploy`, `restart`, `start`, `stop`: N hosts at a time,
    /// or N% of them (`--rolling 1`, `--rolling 25%`); each batch's
    /// (re)started programs run past their `startsecs` and pass their
    /// `healthcheck` before the next batch starts, and the first batch that
    /// fails ends the run. Replaces the description's `rolling` (which
    /// `deploy` and `restart` follow).
    #[arg(long, value_name = "N|N%", value_parser = rolling_batch)]
    pub rolling: Option<hadeploy_model::Batch>,
}

fn rolling_batch(text: &str) -> Result<hadeploy_model::Batch, String> {
    hadeploy_model::Batch::parse(text)
}

/// How `--action status`, `logs` and `plan` report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// status: per host, each supervisor, then its programs with state, pid
    /// and uptime; logs: each line after its host and process; plan: per
    /// host, each change, with a text file's diff. Ansible's output goes to
    /// standard error.
    #[default]
    Table,
    /// One JSON document, `{HOST: {...}}`; Ansible's output only on failure.
    Json,
}

/// An area of the description that `--scope` and `--noScope` select, as an
/// Ansible tag of the generated tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Area {
    /// `groups` and `users`, with their keys and sudo rules.
    Users,
    /// `folders` and `files`.
    Files,
    /// supervisord instances and their programs.
    Supervisor,
}

/// What a scope word of HADeploy means here.
enum ScopeWord {
    All,
    None,
    Area(Area),
    /// A scope of one of HADeploy's other plugins: nothing of it here.
    Other,
    /// HADeploy's file scope: hosts and groups, naming the files and folders
    /// whose `scope` is written so.
    Items,
}

fn scope_word(word: &str, model: &Model) -> Result<ScopeWord, String> {
    match word {
        "all" => return Ok(ScopeWord::All),
        "none" => return Ok(ScopeWord::None),
        _ => {}
    }
    if let Ok(area) = Area::from_str(word, false) {
        return Ok(ScopeWord::Area(area));
    }
    if hadeploy_model::format::OTHER_SCOPES.contains(&word) {
        return Ok(ScopeWord::Other);
    }
    if model.is_item_scope(word) {
        return Ok(ScopeWord::Items);
    }
    Err(format!(
        "`{word}` is not a scope: use users, files, supervisor, all or none, or the `scope` of files and folders \
         (hosts and host groups), comma-separated or repeated"
    ))
}

/// Areas selected: `--tags` (`None`: every area) and `--skip-tags`; and
/// HADeploy's file scopes, which select files and folders by their `scope`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only these areas run; `None` when nothing restricts them.
    pub only: Option<Vec<Area>>,
    /// These areas are skipped.
    pub skip: Vec<Area>,
    /// File scopes included: files and folders whose `scope` is one of
    /// these run even where the area `files` does not.
    pub item_scopes: Vec<String>,
    /// File scopes excluded: files and folders whose `scope` is one of
    /// these never run.
    pub skip_item_scopes: Vec<String>,
}

impl Selection {
    /// Applies the file scopes, as HADeploy did: where the area `files`
    /// does not run, the files and folders of an included file scope do
    /// (and only they); an excluded file scope's never run. Warns of an
    /// included file scope that no file or folder has.
    pub fn apply(&mut self, model: &mut Model) {
        for s in &self.item_scopes {
            let used =
                model.files.iter().any(|f| f.scope.expr == *s) || model.folders.iter().any(|f| f.scope.expr == *s);
            if !used {
                eprintln!("warning: scope `{s}`: no file or folder has this `scope`, so it selects nothing");
            }
        }
        let files_run =
            self.only.as_ref().is_none_or(|o| o.contains(&Area::Files)) && !self.skip.contains(&Area::Files);
        if files_run {
            model.keep_items_of_scopes(None, &self.skip_item_scopes);
        } else if !self.item_scopes.is_empty() {
            model.keep_items_of_scopes(Some(&self.item_scopes), &self.skip_item_scopes);
            self.skip.retain(|a| *a != Area::Files);
            self.only.get_or_insert_with(Vec::new).push(Area::Files);
        }
    }
}

impl RunArgs {
    /// The areas to run, from `--scope` (or else the description's
    /// `included_scopes`) and `--noScope` with the description's
    /// `excluded_scopes`, as HADeploy combined them; warnings for scopes of
    /// HADeploy's other plugins go to standard error.
    ///
    /// # Errors
    /// A word that is no scope.
    pub fn selection(&self, model: &Model) -> Result<Selection, String> {
        let (included, excluded) = (&model.included_scopes, &model.excluded_scopes);
        let included = if self.scope.is_empty() { included } else { &self.scope };
        let mut sel = Selection::default();
        let mut only: Vec<Area> = Vec::new();
        let mut restricted = false;
        for w in included.iter().map(|w| w.trim()) {
            match scope_word(w, model)? {
                ScopeWord::All => only.extend(Area::value_variants()),
                ScopeWord::None => restricted = true,
                ScopeWord::Area(a) => only.push(a),
                ScopeWord::Other => {
                    eprintln!("warning: scope `{w}` belongs to another HADeploy plugin: nothing of it runs here");
                    restricted = true;
                }
                ScopeWord::Items => {
                    sel.item_scopes.push(w.to_string());
                    restricted = true;
                }
            }
        }
        if restricted || !only.is_empty() {
            let mut seen = Vec::new();
            for a in only {
                if !seen.contains(&a) {
                    seen.push(a);
                }
            }
            sel.only = Some(seen);
        }
        for w in self.no_scope.iter().chain(excluded).map(|w| w.trim()) {
            match scope_word(w, model)? {
                ScopeWord::All => sel.skip.extend(Area::value_variants()),
                ScopeWord::None => {}
                ScopeWord::Area(a) => sel.skip.push(a),
                ScopeWord::Other => {
                    eprintln!(
                        "warning: scope `{w}` belongs to another HADeploy plugin: there is nothing of it to skip"
                    );
                }
                ScopeWord::Items => sel.skip_item_scopes.push(w.to_string()),
            }
        }
        sel.skip.dedup();
        Ok(sel)
    }

    /// What `ansible-playbook` is given: `--tags` and `--skip-tags` for the
    /// areas, the vault and verbosity options, then the user's own arguments.
    pub fn playbook_args(&self, sel: &Selection) -> Vec<String> {
        let tags = |areas: &[Area]| -> String {
            let names: Vec<String> = areas
                .iter()
                .map(|a| {
                    a.to_possible_value()
                        .expect("no skipped variants")
                        .get_name()
                        .to_string()
                })
                .collect();
            names.join(",")
        };
        let mut out = Vec::new();
        match &sel.only {
            None => {}
            // Ansible's tag that no task carries: nothing runs.
            Some(only) if only.is_empty() => out.extend(["--tags".to_string(), "never".to_string()]),
            Some(only) => out.extend(["--tags".to_string(), tags(only)]),
        }
        if !sel.skip.is_empty() {
            out.extend(["--skip-tags".to_string(), tags(&sel.skip)]);
        }
        if let Some(batch) = self.rolling {
            // Read by deploy.yml's `serial`.
            out.extend(["--extra-vars".to_string(), format!("hadeploy_rolling={batch}")]);
        }
        if self.ask_vault_password {
            out.push("--ask-vault-pass".into());
        }
        if let Some(f) = &self.vault_password_file {
            // Ansible runs inside the project: the file as seen from here.
            let f = std::path::absolute(f).unwrap_or_else(|_| f.clone());
            out.extend(["--vault-password-file".to_string(), f.display().to_string()]);
        }
        for (on, flag) in [(self.v, "-v"), (self.vv, "-vv"), (self.vvv, "-vvv")] {
            if on {
                out.push(flag.into());
            }
        }
        out.extend(self.ansible_args.iter().cloned());
        out
    }
}

/// The working folder when `--workingFolder` is not given.
pub const DEFAULT_WORKING_FOLDER: &str = "hadeploy-work";

/// Exit code when `ansible-playbook` cannot be started.
pub const EXIT_NO_ANSIBLE: u8 = 3;

/// Exit code of `--action status` when a host could not be reached
/// (`ansible-playbook`'s own code for unreachable hosts).
pub const EXIT_UNREACHABLE: u8 = 4;
/// `status` and `logs`: every host answered, but a host's module failed or
/// a supervisord that should answer did not (down while its service runs,
/// not managed here, access denied, a password asked, no answer in time).
pub const EXIT_NO_ANSWER: u8 = 5;

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
    /// Restart every program, or those `--program` names, then try their
    /// health checks; supervisors are left running as they are.
    Restart,
    /// Show the state of every supervisor and program.
    Status,
    /// Show the last lines of every program's log, from every host.
    Logs,
    /// Show what a deploy would change on each host, changing nothing:
    /// exit 0 when nothing would, 2 when something would, 1 on error.
    Plan,
    /// Check the description and generate the project; run nothing.
    None,
    /// Print every variable with its value and the file that set it.
    Dumpvars,
}

impl Action {
    /// Whether `--program` narrows it to some programs.
    fn takes_programs(self) -> bool {
        matches!(
            self,
            Action::Start | Action::Stop | Action::Restart | Action::Status | Action::Logs
        )
    }

    /// Whether `--rolling` applies to it.
    fn rolls(self) -> bool {
        matches!(self, Action::Deploy | Action::Restart | Action::Start | Action::Stop)
    }

    /// The playbook that carries out this action.
    pub fn playbook(self) -> Option<&'static str> {
        match self {
            Action::Deploy => Some("deploy.yml"),
            Action::Remove => Some("remove.yml"),
            Action::Start => Some("start.yml"),
            Action::Stop => Some("stop.yml"),
            Action::Restart => Some("restart.yml"),
            Action::Status => Some("status.yml"),
            Action::Logs => Some("logs.yml"),
            Action::Plan => Some("plan.yml"),
            Action::None | Action::Dumpvars => None,
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
    /// Check the description and write its Ansible project; run nothing.
    ///
    /// Writes what `--action none` writes. With `--check`, writes nothing and
    /// tells whether the folder is what the description generates: for a
    /// project committed beside its description and reviewed in pull requests.
    Generate {
        /// The description.
        #[command(flatten)]
        src: SrcArgs,
        /// Where the project is written [default: hadeploy-work]. The folder
        /// is created, or must be one this tool created before.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write nothing: print how DIR differs from what would be generated,
        /// as a diff, and exit 1 if it does.
        #[arg(long)]
        check: bool,
    },
    /// Print the JSON Schema of the description format, for editors.
    ///
    /// yaml-language-server (VS Code, Neovim, Helix...) uses it to complete
    /// keys and flag mistakes as they are typed; docs/editors.md says how.
    Schema,
    /// Print the completion script of a shell.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page, or a subcommand's.
    ///
    /// In roff: `hadeploy man > hadeploy.1`,
    /// `hadeploy man generate > hadeploy-generate.1`.
    Man {
        /// The subcommand whose page to print.
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
    },
}

/// Runs the command line; the exit code is 0 on success, 1 when the
/// description is invalid, 2 on a usage error.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::Dump { src }) => match load(&src.parsed(), None) {
            // Rendered too, written nowhere: what `--action none` refuses
            // (a template that fails, a value that cannot be written),
            // `dump` refuses.
            Some(model) if render(&model, Path::new(DEFAULT_WORKING_FOLDER)).is_some() => {
                let json = serde_json::to_string_pretty(&model).expect("the model serializes");
                print(&format!("{json}\n"))
            }
            _ => ExitCode::FAILURE,
        },
        Some(Command::Generate { src, out, check }) => {
            let dir = out.unwrap_or_else(|| PathBuf::from(DEFAULT_WORKING_FOLDER));
            let interrupt = child::Interrupt::catch();
            let Some((_, project)) = project(&src.parsed(), &dir) else {
                return ExitCode::FAILURE;
            };
            if check {
                // Reads only: no lock file appears beside the folder.
                return check_project(&project, &dir, &src.src);
            }
            let Some(_lock) = lock(&dir, "generate") else {
                return ExitCode::FAILURE;
            };
            write_project(&project, &dir, &interrupt)
        }
        Some(Command::Schema) => {
            let schema = serde_json::to_string_pretty(&hadeploy_model::json_schema()).expect("the schema serializes");
            print(&format!("{schema}\n"))
        }
        Some(Command::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hadeploy", &mut out);
            print(&String::from_utf8_lossy(&out))
        }
        Some(Command::Man { subcommand }) => man(subcommand.as_deref()),
        None => run_action(&cli.run),
    }
}

/// The manual page of the command, or of one subcommand (`hadeploy-NAME(1)`,
/// the name the main page refers to it by).
fn man(subcommand: Option<&str>) -> ExitCode {
    let mut cmd = Cli::command();
    // Gives subcommands their `hadeploy-NAME` page names.
    cmd.build();
    let page = match subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
                eprintln!("error: no subcommand `{name}`");
                eprintln!("help: the subcommands are: {}", names.join(", "));
                return ExitCode::from(2);
            }
        },
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("hadeploy {}", env!("CARGO_PKG_VERSION")))
        .render(&mut out)
        .expect("rendering into memory cannot fail");
    print(&String::from_utf8_lossy(&out))
}

/// Writes `text` to standard output; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> ExitCode {
    let _ = std::io::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

fn run_action(args: &RunArgs) -> ExitCode {
    let (false, Some(action)) = (args.src.is_empty(), args.action) else {
        eprintln!("error: give the description and an action: `hadeploy --src app.yml --action deploy`");
        eprintln!("help: `hadeploy --help` lists the actions and subcommands");
        return ExitCode::from(2);
    };
    if args.format.is_some() && !matches!(action, Action::Status | Action::Logs | Action::Plan) {
        eprintln!("error: `--format` is for `--action status`, `logs` and `plan` only");
        return ExitCode::from(2);
    }
    if args.stderr && action != Action::Logs {
        eprintln!("error: `--stderr` is for `--action logs` only");
        return ExitCode::from(2);
    }
    if !args.program.is_empty() && !action.takes_programs() {
        eprintln!("error: `--program` is for `--action start`, `stop`, `restart`, `status` and `logs` only");
        return ExitCode::from(2);
    }
    if action == Action::Logs && args.program.len() > 1 {
        eprintln!("error: `--action logs` reads one program's logs: give `--program` one name");
        return ExitCode::from(2);
    }
    for name in &args.program {
        if let Some(problem) = hadeploy_model::format::name_problem(name) {
            // A name only: it reaches the hosts' module as an argument.
            eprintln!("error: `--program {name}` names a program or a group of programs, and {problem}");
            return ExitCode::from(2);
        }
    }
    if args.rolling.is_some() && !action.rolls() {
        eprintln!("error: `--rolling` is for `--action deploy`, `restart`, `start` and `stop` only");
        return ExitCode::from(2);
    }
    let srcs: Vec<SrcArg> = args.src.iter().map(|s| SrcArg::parse(s)).collect();
    if action == Action::Dumpvars {
        return match load(&srcs, None) {
            Some(model) => print(&dumpvars(&model)),
            None => ExitCode::FAILURE,
        };
    }
    let interrupt = child::Interrupt::catch();
    let dir = args
        .working_folder
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WORKING_FOLDER));
    let Some(mut model) = load(&srcs, Some(&dir)) else {
        return ExitCode::FAILURE;
    };
    if let Err(e) = known_programs(&model, &args.program) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let mut selection = match args.selection(&model) {
        Ok(sel) => sel,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // HADeploy's file scopes select files and folders: the project of this
    // run holds those only.
    selection.apply(&mut model);
    let Some(project) = render(&model, &dir) else {
        return ExitCode::FAILURE;
    };
    let playbook_args = args.playbook_args(&selection);
    // Held until `ansible-playbook` ends: no other run replaces the project
    // it is reading.
    let action_name = action
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let Some(_lock) = lock(&dir, &format!("--action {action_name}")) else {
        return ExitCode::FAILURE;
    };
    let Some(playbook) = action.playbook() else {
        return write_project(&project, &dir, &interrupt);
    };
    let written = write_project(&project, &dir, &interrupt);
    if written != ExitCode::SUCCESS {
        return written;
    }
    let hosts: Vec<String> = model.hosts.keys().cloned().collect();
    let format = args.format.unwrap_or_default();
    if action == Action::Status {
        let mut vars = serde_json::json!({});
        if !args.program.is_empty() {
            vars["hadeploy_supervisor_programs"] = serde_json::json!(args.program);
        }
        return run_report::<status::SupervisorStatus>(&dir, vars, &playbook_args, format, &hosts, &interrupt);
    }
    if action == Action::Plan {
        return run_plan(&dir, &playbook_args, format, &hosts, &interrupt);
    }
    if action == Action::Logs {
        let query = logs::Query {
            program: args.program.first().cloned(),
            lines: args.lines,
            stderr: args.stderr,
        };
        return run_report::<logs::SupervisorLogs>(&dir, query.vars(), &playbook_args, format, &hosts, &interrupt);
    }
    let mut playbook_args = playbook_args;
    if !args.program.is_empty() {
        // Names of the description's programs, checked above: data only.
        let vars = serde_json::json!({ "hadeploy_supervisor_programs": args.program });
        playbook_args.splice(0..0, ["--extra-vars".to_string(), vars.to_string()]);
    }
    let mut cmd = playbook_command(&dir, playbook, &playbook_args);
    let rolling = match action {
        Action::Deploy | Action::Restart => args.rolling.or(model.rolling).is_some(),
        _ => args.rolling.is_some(),
    };
    match child::status(&mut cmd, &interrupt) {
        Ok(ran) => match ran.signal {
            Some(signal) => child::interrupted(signal, STOPPED),
            None if rolling && ran.result.code().is_some_and(|c| c != 0) => {
                eprintln!(
                    "error: the rolling {action_name} stopped at the first batch with a failed host (above): \
                     the hosts of the batches after it were left as they were"
                );
                exit_code(ran.result)
            }
            None => exit_code(ran.result),
        },
        Err(e) => cannot_run(&e, &dir, &interrupt),
    }
}

/// Checks that each of `names` is a program or a group of programs of the
/// description, saying which ones it has otherwise.
fn known_programs(model: &Model, names: &[String]) -> Result<(), String> {
    let known: std::collections::BTreeSet<&str> = model
        .supervisors
        .iter()
        .flat_map(|s| {
            s.programs
                .iter()
                .map(|p| p.name.as_str())
                .chain(s.groups.iter().map(|g| g.name.as_str()))
        })
        .collect();
    for name in names {
        if !known.contains(name.as_str()) {
            let list: Vec<&str> = known.iter().copied().collect();
            return Err(if list.is_empty() {
                format!("`--program {name}`: the description has no program")
            } else {
                format!(
                    "`--program {name}`: the description has no program or group of programs of this name; it has: {}",
                    list.join(", ")
                )
            });
        }
    }
    Ok(())
}

/// Loads the description and renders the project that goes into `dir`;
/// `None` once the errors are reported.
fn project(srcs: &[SrcArg], dir: &Path) -> Option<(Model, Project)> {
    let model = load(srcs, Some(dir))?;
    let project = render(&model, dir)?;
    Some((model, project))
}

/// The project of `model`, to be written into `dir`; `None` once the error
/// is reported.
fn render(model: &Model, dir: &Path) -> Option<Project> {
    let opts = hadeploy_codegen::Options {
        project_dir: Some(dir.to_path_buf()),
        source_dir: std::env::current_dir().ok(),
        ..hadeploy_codegen::Options::default()
    };
    match hadeploy_codegen::render(model, &opts) {
        Ok(project) => Some(project),
        Err(e) => {
            eprintln!("error: {e}");
            if matches!(e, hadeploy_codegen::RenderError::TooLarge { .. }) {
                eprintln!(
                    "help: look for a long value used in many paths or on many hosts, or a large `file://` source; \
                     nothing was written"
                );
            }
            None
        }
    }
}

/// The working folder's lock, or `None` once the reason is reported.
fn lock(dir: &Path, who: &str) -> Option<hadeploy_codegen::Lock> {
    // A folder that is not ours gets no lock file beside it either.
    match hadeploy_codegen::check_ours(dir).and_then(|()| hadeploy_codegen::lock(dir, who)) {
        Ok(lock) => Some(lock),
        Err(e) => {
            eprintln!("error: {e}");
            if matches!(e, hadeploy_codegen::WriteError::Busy { .. }) {
                eprintln!("help: wait for it to end, or give this run another `--workingFolder`");
            }
            None
        }
    }
}

/// `--action dumpvars`, as HADeploy printed it: each variable, sorted, its
/// value in YAML's flow style, and where it was set.
fn dumpvars(model: &Model) -> String {
    let mut names: Vec<&String> = model.vars.keys().collect();
    names.sort();
    let mut out = String::from("---\n");
    for name in names {
        let value = serde_json::to_string(&model.vars[name]).expect("a JSON value serializes");
        let from = model
            .var_files
            .get(name)
            .map_or_else(|| "??".to_string(), |p| p.display().to_string());
        out.push_str(&format!("{name}: {value}   ({from})\n"));
    }
    out.push_str("---\n");
    out
}

/// What an interrupted run says it stopped.
const STOPPED: &str = "`ansible-playbook` was stopped";

/// Writes the project, unless a stopping signal came (before or during):
/// then nothing is left behind and the exit code is 128 + the signal.
fn write_project(project: &Project, dir: &Path, interrupt: &child::Interrupt) -> ExitCode {
    let stopped = |signal| child::interrupted(signal, &format!("`{}` was not written", dir.display()));
    if let Some(signal) = interrupt.signal() {
        return stopped(signal);
    }
    match hadeploy_codegen::write_unless(project, dir, &|| interrupt.signal().is_some()) {
        Ok(()) => {
            eprintln!("generated the Ansible project in `{}`", dir.display());
            ExitCode::SUCCESS
        }
        Err(hadeploy_codegen::WriteError::Interrupted(_)) => stopped(interrupt.signal().unwrap_or(2)),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `generate --check`: the diff on standard output, the verdict on standard error.
fn check_project(project: &Project, dir: &Path, srcs: &[String]) -> ExitCode {
    let drift = hadeploy_codegen::check(project, dir);
    if drift.is_empty() {
        eprintln!("`{}` is up to date", dir.display());
        return ExitCode::SUCCESS;
    }
    let folder = dir.display().to_string();
    let diff: String = drift.iter().map(|d| d.unified_diff(&folder)).collect();
    let _ = std::io::stdout().write_all(diff.as_bytes());
    let n = drift.len();
    eprintln!(
        "error: `{folder}` is not what the description generates: {n} file{} differ{}",
        if n == 1 { "" } else { "s" },
        if n == 1 { "s" } else { "" }
    );
    for d in &drift {
        eprintln!("  {}", d.summary());
    }
    let src: Vec<String> = srcs.iter().map(|s| format!("--src {s}")).collect();
    eprintln!(
        "help: regenerate it with `hadeploy generate {} --out {folder}`",
        src.join(" ")
    );
    ExitCode::FAILURE
}

/// `ansible-playbook PLAYBOOK EXTRA...` in the generated project.
fn playbook_command(dir: &Path, playbook: &str, extra: &[String]) -> std::process::Command {
    let program = ansible_playbook();
    let mut cmd = std::process::Command::new(program);
    cmd.current_dir(dir).arg(playbook).args(extra);
    cmd
}

fn ansible_playbook() -> std::ffi::OsString {
    std::env::var_os("HADEPLOY_ANSIBLE_PLAYBOOK").unwrap_or_else(|| "ansible-playbook".into())
}

/// `ansible-playbook`'s exit status as ours.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    match (status.code(), signal) {
        (Some(0), _) => ExitCode::SUCCESS,
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // As a shell reports it: 128 + the signal, not the "invalid description" code.
        (None, Some(n)) => {
            eprintln!("error: `ansible-playbook` was killed by signal {n}");
            ExitCode::from(u8::try_from(128 + n).unwrap_or(1))
        }
        (None, None) => {
            eprintln!("error: `ansible-playbook` was killed");
            ExitCode::FAILURE
        }
    }
}

fn cannot_run(e: &std::io::Error, dir: &Path, interrupt: &child::Interrupt) -> ExitCode {
    if let Some(signal) = interrupt.signal() {
        return child::interrupted(signal, "`ansible-playbook` was not started");
    }
    eprintln!("error: cannot run `{}`: {e}", ansible_playbook().to_string_lossy());
    eprintln!(
        "help: install Ansible (`pip install ansible-core`), or set HADEPLOY_ANSIBLE_PLAYBOOK to its path; \
         the project is ready in `{}`",
        dir.display()
    );
    ExitCode::from(EXIT_NO_ANSIBLE)
}

/// Runs `playbook` with the extra variables `vars` and `dir_var` naming a
/// temporary folder, where its last task writes each host's answer as
/// `HOST.json`. In a table, Ansible's output goes to standard error, so
/// that standard output holds only the table; in JSON form, it is shown
/// only when it fails. The folder and how `ansible-playbook` ended, or the
/// exit code of a run that could not be made or was stopped.
fn run_collecting(
    dir: &Path,
    playbook: &str,
    dir_var: &str,
    vars: serde_json::Value,
    extra: &[String],
    format: Format,
    interrupt: &child::Interrupt,
) -> Result<(tempfile::TempDir, std::process::ExitStatus), ExitCode> {
    let out_dir = match tempfile::Builder::new().prefix("hadeploy-report-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot create a temporary folder: {e}");
            return Err(ExitCode::FAILURE);
        }
    };
    let mut vars = vars;
    vars[dir_var] = serde_json::json!(out_dir.path());
    // As a file of data, which Ansible never renders: the values come from
    // the command line and the environment (the temporary folder's path).
    let vars_file = out_dir.path().join("extra-vars.yml");
    if let Err(e) = std::fs::write(&vars_file, hadeploy_codegen::quote::yaml_data(&vars) + "\n") {
        eprintln!("error: cannot write {}: {e}", vars_file.display());
        return Err(ExitCode::FAILURE);
    }
    let mut args = vec!["--extra-vars".to_string(), format!("@{}", vars_file.display())];
    args.extend(extra.iter().cloned());
    let mut cmd = playbook_command(dir, playbook, &args);
    let ran = match format {
        Format::Table => child::status(cmd.stdout(std::io::stderr()), interrupt),
        Format::Json => child::output(&mut cmd, interrupt).map(|ran| {
            if !ran.result.status.success() {
                let _ = std::io::stderr().write_all(&ran.result.stdout);
                let _ = std::io::stderr().write_all(&ran.result.stderr);
            }
            child::Ran {
                result: ran.result.status,
                signal: ran.signal,
            }
        }),
    };
    match ran {
        Ok(child::Ran {
            signal: Some(signal), ..
        }) => Err(child::interrupted(signal, STOPPED)),
        Ok(ran) => Ok((out_dir, ran.result)),
        Err(e) => Err(cannot_run(&e, dir, interrupt)),
    }
}

/// Prints a report as a JSON document, every host's answer by its name.
fn print_json<T: serde::Serialize>(report: &T) {
    let json = status::json_escaped(&serde_json::to_string_pretty(report).expect("the report serializes"));
    let _ = print(&format!("{json}\n"));
}

/// `--action status` and `logs`: runs the playbook of the report of `S`
/// (each instance's answer), with `vars` (see [`run_collecting`]), then
/// prints the report as a table or one JSON document. Exit status:
/// `ansible-playbook`'s when it failed, else [`EXIT_UNREACHABLE`] when
/// some host did not answer.
fn run_report<S: status::HostReport>(
    dir: &Path,
    vars: serde_json::Value,
    extra: &[String],
    format: Format,
    hosts: &[String],
    interrupt: &child::Interrupt,
) -> ExitCode {
    let (out_dir, ended) = match run_collecting(dir, S::PLAYBOOK, S::DIR_VAR, vars, extra, format, interrupt) {
        Ok(ran) => ran,
        Err(code) => return code,
    };
    let report: IndexMap<String, status::HostAnswer<S>> =
        status::collect(out_dir.path(), hosts, status::HostAnswer::unreadable);
    match format {
        Format::Table if report.is_empty() => eprintln!("no host reported {}", S::WHAT),
        Format::Table => {
            let _ = print(&S::table(&report));
        }
        Format::Json => print_json(&report),
    }
    if !ended.success() {
        return exit_code(ended);
    }
    let lost = status::unreachable(&report);
    if !lost.is_empty() {
        eprintln!("error: unreachable: {}", status::escape_controls(&lost.join(", ")));
        return ExitCode::from(EXIT_UNREACHABLE);
    }
    let faults = status::faults(&report);
    if faults.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &faults {
            eprintln!("error: no answer: {}", status::escape_controls(f));
        }
        ExitCode::from(EXIT_NO_ANSWER)
    }
}

/// `--action plan`: runs plan.yml (see [`run_collecting`]), prints what
/// each host would change as a table or one JSON document, and exits 0
/// when no host would change, [`plan::EXIT_CHANGES`] when some would, 1
/// when the plan could not be made on every host (Ansible's output says
/// why; the hosts that answered are still shown).
fn run_plan(dir: &Path, extra: &[String], format: Format, hosts: &[String], interrupt: &child::Interrupt) -> ExitCode {
    let vars = serde_json::json!({});
    let (out_dir, ended) = match run_collecting(
        dir,
        "plan.yml",
        "hadeploy_supervisor_plan_dir",
        vars,
        extra,
        format,
        interrupt,
    ) {
        Ok(ran) => ran,
        Err(code) => return code,
    };
    let report: plan::Report = status::collect(out_dir.path(), hosts, plan::HostPlan::unreadable);
    match format {
        Format::Table if report.is_empty() => eprintln!("no host reported a plan"),
        Format::Table => {
            let _ = print(&plan::table(&report));
        }
        Format::Json => print_json(&report),
    }
    // No host reported (a --limit that names none): no plan, not "no change".
    let broken = report.is_empty() || report.values().any(|h| h.error.is_some() || !h.reachable);
    if !ended.success() || broken {
        eprintln!("error: the plan could not be made on every host (above)");
        return ExitCode::FAILURE;
    }
    if plan::changes(&report) {
        ExitCode::from(plan::EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}

fn load(srcs: &[SrcArg], working_folder: Option<&Path>) -> Option<Model> {
    let ansible = inventory::AnsibleInventory::new();
    let opts = hadeploy_model::LoadOptions {
        working_folder,
        inventories: Some(&ansible),
    };
    match hadeploy_model::load_with(srcs, &opts) {
        Ok(model) => Some(model),
        Err(diags) => {
            // Coloured on a terminal; anstream strips the colours otherwise,
            // and when NO_COLOR is set.
            anstream::eprintln!("{}", diags.render(true));
            None
        }
    }
}
