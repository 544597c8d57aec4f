//! Generation benchmark: descriptions of growing size, written as real YAML
//! files (and the local templates they reference) into a temporary folder,
//! then loaded and validated (`hadeploy_model::load`), rendered
//! (`hadeploy_codegen::render`) and written (`hadeploy_codegen::write`).
//!
//! `cargo bench -p hadeploy-codegen --bench generation` prints one table row
//! per size: best and median time of each phase and of the total, ns per
//! program, and the peak memory (VmHWM) of a child process that ran it.
//!
//! Each size runs in a child process (this binary again, with
//! `HADEPLOY_BENCH_CHILD` set), so that its peak memory is its own. The tool
//! is single-threaded; pin the whole run to one core with
//! `taskset -c 0 cargo bench ...` for steadier figures.
//!
//! Environment:
//! - `HADEPLOY_BENCH_SIZES`: sizes to run, `PROGRAMSxHOSTS` separated by
//!   commas (default `10x10,100x20,1000x50,5000x100`).
//! - `HADEPLOY_BENCH_RUNS`: timed runs per size (default 5), after one
//!   untimed warm-up run that also measures peak memory.
//! - `HADEPLOY_BENCH_KEEP`: a folder where each size's description is left
//!   (`PROGRAMSxHOSTS/cluster.yml`, `app.yml`, `templates/`, `keys/`), to
//!   run the command line on it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use hadeploy_model::SrcArg;

const CHILD_ENV: &str = "HADEPLOY_BENCH_CHILD";
const DEFAULT_SIZES: &str = "10x10,100x20,1000x50,5000x100";
/// Hosts per host group; one supervisor runs on each group.
const RACK: usize = 5;

fn main() -> ExitCode {
    match std::env::var(CHILD_ENV) {
        Ok(size) => child(&size),
        Err(_) => parent(),
    }
}

// ---------------------------------------------------------------- parent

fn parent() -> ExitCode {
    let sizes = std::env::var("HADEPLOY_BENCH_SIZES").unwrap_or_else(|_| DEFAULT_SIZES.into());
    let exe = std::env::current_exe().expect("the bench knows its own path");
    println!(
        "hadeploy generation benchmark: load+validate, render, write; best / median of {} runs; {}",
        runs(),
        machine()
    );
    println!();
    println!(
        "{:>11} {:>6} {:>7} {:>8} | {:>15} {:>15} {:>15} | {:>15} {:>15} {:>8} | {:>17} | {:>9}",
        "progs/hosts",
        "files",
        "out",
        "out MiB",
        "load ms",
        "render ms",
        "write ms",
        "total ms",
        "cpu ms",
        "wait ms",
        "ns/program",
        "peak MiB"
    );
    let mut ok = true;
    for size in sizes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let out = Command::new(&exe)
            .env(CHILD_ENV, size)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("the bench can start itself");
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(r) = text.lines().find_map(Row::parse) else {
            eprintln!("size {size}: the child failed ({}):\n{text}", out.status);
            ok = false;
            continue;
        };
        println!(
            "{:>11} {:>6} {:>7} {:>8.1} | {:>15} {:>15} {:>15} | {:>15} {:>15} {:>8.1} | {:>8.0} /{:>8.0} | {:>9.1}",
            format!("{}/{}", r.programs, r.hosts),
            r.desc_files,
            r.out_files,
            r.out_bytes as f64 / MIB,
            pair(r.load),
            pair(r.render),
            pair(r.write),
            pair(r.total),
            pair(r.cpu),
            r.wait.1,
            r.total.0 * 1e6 / r.programs as f64,
            r.total.1 * 1e6 / r.programs as f64,
            r.peak_kib as f64 / 1024.0,
        );
        if r.threads != 1 {
            println!(
                "  (size {size}: {} threads at the end of the run, expected 1)",
                r.threads
            );
        }
        let _ = std::io::stdout().flush();
    }
    println!();
    println!("files: description files written (YAML + templates + key); out: files of the generated project;");
    println!("load, render, write, total: wall-clock ms, best / median; cpu: on-CPU time of the total");
    println!("(/proc/thread-self/schedstat), best / median; wait: median time spent runnable but not running");
    println!("(another process had the core): a large wait means a busy machine, trust cpu and best then;");
    println!("ns/program: best / median total divided by the number of programs;");
    println!("peak MiB: VmHWM of the process that ran one load+render+write of that size (1 warm-up run).");
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

const MIB: f64 = 1024.0 * 1024.0;

fn pair((best, median): (f64, f64)) -> String {
    format!("{best:>6.1} /{median:>6.1}")
}

fn runs() -> usize {
    std::env::var("HADEPLOY_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(5)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} core(s) available to this process")
}

/// One line of a child's output: `RESULT key=value ...`, times in ms.
struct Row {
    programs: usize,
    hosts: usize,
    desc_files: usize,
    out_files: usize,
    out_bytes: usize,
    peak_kib: u64,
    load: (f64, f64),
    render: (f64, f64),
    write: (f64, f64),
    total: (f64, f64),
    cpu: (f64, f64),
    wait: (f64, f64),
    threads: u64,
}

impl Row {
    fn parse(line: &str) -> Option<Row> {
        let rest = line.strip_prefix("RESULT ")?;
        let get = |k: &str| -> Option<&str> {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
        };
        let f = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok());
        let two = |k: &str| Some((f(&format!("{k}_best"))?, f(&format!("{k}_median"))?));
        Some(Row {
            programs: get("programs")?.parse().ok()?,
            hosts: get("hosts")?.parse().ok()?,
            desc_files: get("desc_files")?.parse().ok()?,
            out_files: get("out_files")?.parse().ok()?,
            out_bytes: get("out_bytes")?.parse().ok()?,
            peak_kib: get("peak_kib")?.parse().ok()?,
            load: two("load")?,
            render: two("render")?,
            write: two("write")?,
            total: two("total")?,
            cpu: two("cpu")?,
            wait: two("wait")?,
            threads: get("threads")?.parse().ok()?,
        })
    }
}

// ---------------------------------------------------------------- child

fn child(size: &str) -> ExitCode {
    let Some((programs, hosts)) = size
        .split_once('x')
        .and_then(|(p, h)| Some((p.trim().parse::<usize>().ok()?, h.trim().parse::<usize>().ok()?)))
        .filter(|&(p, h)| p > 0 && h > 0)
    else {
        eprintln!("bad size `{size}`: expected PROGRAMSxHOSTS, e.g. 5000x100");
        return ExitCode::FAILURE;
    };
    let tmp = tempfile::Builder::new()
        .prefix("hadeploy-bench-")
        .tempdir()
        .expect("a temporary folder");
    let desc = match std::env::var_os("HADEPLOY_BENCH_KEEP") {
        Some(keep) => PathBuf::from(keep).join(size),
        None => tmp.path().join("desc"),
    };
    let desc_files = describe(&desc, programs, hosts).expect("the description can be written");
    let srcs = [
        SrcArg::File(desc.join("cluster.yml")),
        SrcArg::File(desc.join("app.yml")),
    ];

    // Peak memory of one whole run: reset the high-water mark to the current
    // resident size (Linux: `5` in clear_refs), run once, read it back.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let warm = run_once(&srcs, &tmp.path().join("out-warmup"));
    let peak_kib = status_kib("VmHWM").unwrap_or(0);
    let Ok((_, out_files, out_bytes)) = warm else {
        return ExitCode::FAILURE;
    };

    let mut samples: Vec<[Duration; 3]> = Vec::new();
    let mut sched: Vec<(f64, f64)> = Vec::new();
    for i in 0..runs() {
        let out = tmp.path().join(format!("out-{i}"));
        let before = schedstat();
        match run_once(&srcs, &out) {
            Ok((t, _, _)) => samples.push(t),
            Err(()) => return ExitCode::FAILURE,
        }
        let after = schedstat();
        sched.push((
            (after.0.saturating_sub(before.0)) as f64 / 1e6,
            (after.1.saturating_sub(before.1)) as f64 / 1e6,
        ));
        // Each run writes a fresh folder; removing it is not timed.
        let _ = std::fs::remove_dir_all(&out);
    }
    let stat = |pick: &dyn Fn(&[Duration; 3]) -> Duration| -> (f64, f64) {
        let mut v: Vec<f64> = samples.iter().map(|s| pick(s).as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2])
    };
    let (lb, lm) = stat(&|s| s[0]);
    let (rb, rm) = stat(&|s| s[1]);
    let (wb, wm) = stat(&|s| s[2]);
    let (tb, tm) = stat(&|s| s[0] + s[1] + s[2]);
    let best_median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2])
    };
    let (cb, cm) = best_median(sched.iter().map(|s| s.0).collect());
    let (xb, xm) = best_median(sched.iter().map(|s| s.1).collect());
    let threads = status_kib("Threads").unwrap_or(0);
    let mut line = String::from("RESULT");
    let _ = write!(
        line,
        " programs={programs} hosts={hosts} desc_files={desc_files} out_files={out_files} out_bytes={out_bytes} \
         peak_kib={peak_kib} load_best={lb:.3} load_median={lm:.3} render_best={rb:.3} render_median={rm:.3} \
         write_best={wb:.3} write_median={wm:.3} total_best={tb:.3} total_median={tm:.3} \
         cpu_best={cb:.3} cpu_median={cm:.3} wait_best={xb:.3} wait_median={xm:.3} threads={threads}"
    );
    println!("{line}");
    ExitCode::SUCCESS
}

/// One load + render + write into `out`: the time of each phase, and the
/// number of files and bytes of the project.
fn run_once(srcs: &[SrcArg], out: &Path) -> Result<([Duration; 3], usize, usize), ()> {
    let t0 = Instant::now();
    let model = hadeploy_model::load(srcs).map_err(|d| eprintln!("{d}"))?;
    let t1 = Instant::now();
    let opts = hadeploy_codegen::Options {
        project_dir: Some(out.to_path_buf()),
        source_dir: out.parent().map(Path::to_path_buf),
        ..hadeploy_codegen::Options::default()
    };
    let project = hadeploy_codegen::render(&model, &opts).map_err(|e| eprintln!("error: {e}"))?;
    let t2 = Instant::now();
    hadeploy_codegen::write(&project, out).map_err(|e| eprintln!("error: {e}"))?;
    let t3 = Instant::now();
    let bytes = project
        .values()
        .map(|c| usize::try_from(c.len()).unwrap_or(usize::MAX))
        .sum();
    let files = project.len();
    drop(project);
    drop(model);
    Ok(([t1 - t0, t2 - t1, t3 - t2], files, bytes))
}

/// Nanoseconds this thread has run on a CPU, and waited runnable for one
/// (/proc/thread-self/schedstat; zeros where the kernel does not keep them).
fn schedstat() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut it = text.split_whitespace().map(|v| v.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// A numeric line of /proc/self/status (`kB` dropped), e.g. `VmHWM`.
fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

// ---------------------------------------------------------------- description

/// Writes a description of `programs` programs on `hosts` hosts into `dir`:
/// `cluster.yml` (hosts in racks of [`RACK`]), `app.yml` (one account and one
/// supervisor per rack; per program a folder, a template file that notifies
/// it, and the program), `templates/` and `keys/`. Returns the number of
/// files written.
fn describe(dir: &Path, programs: usize, hosts: usize) -> std::io::Result<usize> {
    let racks = hosts.div_ceil(RACK);
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::create_dir_all(dir.join("keys"))?;
    std::fs::write(dir.join("keys/root_id"), "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n")?;
    let host = |i: usize| format!("node{i:03}");
    let rack_hosts = |r: usize| (r * RACK..((r + 1) * RACK).min(hosts)).collect::<Vec<_>>();

    let mut c = String::new();
    c.push_str("# Generated by the hadeploy generation benchmark.\nhosts:\n");
    for i in 0..hosts {
        let _ = writeln!(
            c,
            "- {{ name: {}, ssh_host: 10.{}.{}.{}, ssh_user: root, ssh_private_key_file: keys/root_id }}",
            host(i),
            10 + i / 65536,
            (i / 256) % 256,
            i % 256
        );
    }
    c.push_str("\nhost_groups:\n");
    for r in 0..racks {
        let members: Vec<String> = rack_hosts(r).into_iter().map(host).collect();
        let _ = writeln!(c, "- {{ name: rack{r:02}, hosts: [{}] }}", members.join(", "));
    }
    let _ = writeln!(
        c,
        "- {{ name: cluster, groups: [{}] }}",
        (0..racks).map(|r| format!("rack{r:02}")).collect::<Vec<_>>().join(", ")
    );
    c.push_str("\nhost_overrides:\n- { name: all, ssh_port: 22 }\n");
    std::fs::write(dir.join("cluster.yml"), c)?;

    let mut a = String::new();
    a.push_str("# Generated by the hadeploy generation benchmark.\n");
    a.push_str("vars:\n  base: /opt/bench\n  log_root: /var/log/bench\n\n");
    a.push_str("local_templates_folders:\n- ./templates\n\n");
    a.push_str("groups:\n");
    for r in 0..racks {
        let _ = writeln!(a, "- {{ name: app{r:02}, scope: rack{r:02} }}");
    }
    a.push_str("\nusers:\n");
    for r in 0..racks {
        let _ = writeln!(
            a,
            "- {{ login: app{r:02}, group: app{r:02}, comment: \"rack {r} service account\", scope: rack{r:02} }}"
        );
    }
    a.push_str("\nsupervisors:\n");
    for r in 0..racks {
        let _ = writeln!(
            a,
            "- name: sv{r:02}\n  scope: rack{r:02}\n  user: app{r:02}\n  group: app{r:02}\n  http_server: {{ endpoint: \"127.0.0.1:{}\", password: \"s3cret{r}\" }}",
            9001 + r
        );
    }
    a.push_str("\nfolders:\n");
    for r in 0..racks {
        let _ = writeln!(
            a,
            "- {{ path: \"${{base}}/sv{r:02}\", scope: rack{r:02}, owner: app{r:02}, group: app{r:02}, mode: \"0755\" }}"
        );
    }
    // Program i runs on rack i % racks; every tenth of a rack's programs on
    // one host of it only (in turn), every tenth keeps its folder on remove,
    // every seventh runs two processes.
    let placement = |i: usize| {
        let r = i % racks;
        let hs = rack_hosts(r);
        let j = i / racks;
        let scope = if j % 10 == 9 {
            host(hs[(j / 10) % hs.len()])
        } else {
            format!("rack{r:02}")
        };
        (r, scope)
    };
    for i in 0..programs {
        let (r, scope) = placement(i);
        let no_remove = if (i / racks).is_multiple_of(10) {
            ", no_remove: yes"
        } else {
            ""
        };
        let _ = writeln!(
            a,
            "- {{ path: \"${{base}}/sv{r:02}/p{i:04}\", scope: {scope}, owner: app{r:02}, group: app{r:02}, mode: \"0750\"{no_remove} }}"
        );
    }
    a.push_str("\nfiles:\n");
    for i in 0..programs {
        let (r, scope) = placement(i);
        let _ = writeln!(
            a,
            "- {{ src: \"tmpl://p{i:04}.sh.j2\", dest_folder: \"${{base}}/sv{r:02}/p{i:04}\", scope: {scope}, owner: app{r:02}, group: app{r:02}, mode: \"0755\", notify: \"supervisor://sv{r:02}/p{i:04}\" }}"
        );
        std::fs::write(
            dir.join(format!("templates/p{i:04}.sh.j2")),
            format!(
                "#!/bin/bash\n# p{i:04} on {{{{ inventory_hostname }}}}\nexport APP_ID=p{i:04}\nexec sleep 100000\n"
            ),
        )?;
    }
    a.push_str("\nsupervisor_programs:\n");
    for i in 0..programs {
        let (r, scope) = placement(i);
        let _ = write!(
            a,
            "- name: p{i:04}\n  supervisor: sv{r:02}\n  command: \"/bin/bash ${{base}}/sv{r:02}/p{i:04}/p{i:04}.sh\"\n  \
             startsecs: 2\n  stdout_logfile: \"${{log_root}}/sv{r:02}/p{i:04}.out\"\n  \
             environment: {{ APP_ID: p{i:04}, RACK: \"{r}\" }}\n"
        );
        if scope.starts_with("node") {
            let _ = writeln!(a, "  scope: {scope}");
        }
        if (i / racks) % 7 == 3 {
            a.push_str("  numprocs: 2\n  autorestart: unexpected\n");
        }
    }
    std::fs::write(dir.join("app.yml"), a)?;
    Ok(3 + programs)
}
