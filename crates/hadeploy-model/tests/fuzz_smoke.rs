//! The fuzz targets of `fuzz/` (`loader`, `structured`), run on stable as a
//! bounded smoke test: the seed corpus and every fixture, then a fixed
//! number of random and mutated inputs, each through the same function the
//! fuzz target calls. No wall clock: the count bounds the run, and a hang
//! shows as a test that does not end.
//!
//! `HADEPLOY_FUZZ_RUNS=N` changes the number of generated inputs (default
//! 1500 per test) and `HADEPLOY_FUZZ_SEED=S` the seed (default fixed, so a
//! failure replays); a failing input is written to the temporary folder
//! and its path printed, to add to `fuzz/seeds/`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use hadeploy_model::fuzz;

fn runs() -> usize {
    std::env::var("HADEPLOY_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

fn seed() -> u64 {
    std::env::var("HADEPLOY_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_4ade_9107_0001)
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_under(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files_under(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(std::fs::read(&p).unwrap());
        }
    }
}

/// The seed corpus of the fuzz targets and every description fixture.
fn corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    files_under(&repo().join("fuzz/seeds"), &mut out);
    files_under(&repo().join("tests/fixtures"), &mut out);
    assert!(out.len() > 20, "the corpus is missing: {}", repo().display());
    out
}

/// Pieces of YAML and of the description's syntax that mutations insert.
const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a\n",
    "[",
    "]",
    "{",
    "}",
    ", ",
    ": ",
    "\n- ",
    "\n  ",
    "'",
    "\"",
    "|\n  ",
    ">-\n  ",
    "---\n",
    "...\n",
    "#",
    "!!str ",
    "!vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
    "? ",
    "${v0}",
    "<<v2.a>>",
    "$${",
    "{{ x }}",
    "{%",
    "%(program_name)s",
    "include: ",
    "vars: {x: ",
    "hosts: [{name: h}]\n",
    "supervisors:\n- {name: s, scope: all, user: u, group: g}\n",
    "when: no",
    "~",
    "\t",
    "\u{feff}",
    "\r\n",
    "\\u0000",
    "\0",
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.splice(at..at, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at..end);
            }
            3 if !v.is_empty() => {
                // Repeat a piece: lists and maps grow, nesting deepens.
                let end = (at + 1 + rng.below(32)).min(v.len());
                let piece: Vec<u8> = v[at.min(end)..end].to_vec();
                for _ in 0..rng.below(20) {
                    v.splice(at..at, piece.iter().copied());
                }
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(256)).min(other.len());
                v.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let n = 1 + rng.below(8);
                let b = rng.bytes(n);
                v.splice(at..at, b);
            }
        }
    }
    v
}

/// Runs `check` on `input`; on a panic, keeps the input and fails.
fn run(name: &str, i: usize, input: &[u8], check: impl Fn(&[u8])) {
    if catch_unwind(AssertUnwindSafe(|| check(input))).is_err() {
        let path = std::env::temp_dir().join(format!("hadeploy-fuzz-{name}-{}-{i}", std::process::id()));
        std::fs::write(&path, input).unwrap();
        panic!(
            "fuzz target `{name}` failed on input {i} (seed {}), kept in {}",
            seed(),
            path.display()
        );
    }
}

#[test]
fn loader_target_survives_corpus_and_mutations() {
    let corpus = corpus();
    let check = |b: &[u8]| {
        fuzz::check_bytes(b);
    };
    for (i, input) in corpus.iter().enumerate() {
        run("loader", i, input, check);
    }
    let mut rng = Rng(seed());
    for i in 0..runs() {
        let input = match rng.below(4) {
            0 => {
                let n = rng.below(512);
                rng.bytes(n)
            }
            1 => {
                let n = rng.below(256);
                fuzz::structured(&rng.bytes(n)).into_bytes()
            }
            _ => {
                let from = rng.below(corpus.len());
                mutate(&mut rng, &corpus[from], &corpus)
            }
        };
        run("loader", i, &input, check);
    }
}

#[test]
fn structured_target_survives_random_choices() {
    let loaded = std::cell::Cell::new(0);
    let check = |b: &[u8]| {
        let model = fuzz::check_text(&fuzz::structured(b));
        loaded.set(loaded.get() + usize::from(model.is_some()));
    };
    let mut rng = Rng(seed() ^ 0xabcd);
    for i in 0..runs() {
        let n = rng.below(400);
        let input = rng.bytes(n);
        run("structured", i, &input, check);
    }
    let loaded = loaded.get();
    // Not a property, a check on the generator: some inputs must get through
    // validation, or the target explores nothing past the first error.
    assert!(loaded > 0, "no structured input loaded");
}
