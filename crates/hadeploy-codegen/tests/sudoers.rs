//! The sudo rules written for `can_sudo_to`, checked by sudo's own parser
//! (`visudo -cf`, Debian's `sudo` package): every pair of names the model
//! accepts gives a rule visudo accepts, naming exactly those accounts.

use std::process::Command;

use hadeploy_model::SrcArg;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn visudo() -> Option<&'static str> {
    let found = ["/usr/sbin/visudo", "/usr/bin/visudo"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "CI must provide visudo (Debian's sudo package; see .ci/run)"
    );
    if found.is_none() {
        eprintln!("SKIPPED: no visudo (Debian's sudo package)");
    }
    found
}

/// The rule of the one user of a description, or `None` when the model refuses it.
fn rule(login: &str, targets: &str) -> Option<String> {
    let text = format!("hosts: [{{name: h}}]\nusers:\n- {{ login: '{login}', can_sudo_to: '{targets}' }}\n");
    let model = hadeploy_model::load(&[SrcArg::Text {
        path: "app.yml".into(),
        text,
    }])
    .ok()?;
    let u = &model.users[0];
    Some(hadeploy_codegen::sudoers_rule(&u.login, &u.can_sudo_to))
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[a-z_][a-z0-9_.-]{0,12}",
        4 => "[A-Za-z_][A-Za-z0-9_.-]{0,11}[$]?",
        1 => Just("ALL".to_string()),
        1 => Just("root".to_string()),
        1 => "[A-Z][A-Z0-9_]{0,6}",
    ]
}

#[test]
fn every_rule_of_an_accepted_description_passes_visudo() {
    let Some(visudo) = visudo() else { return };
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let rules = std::cell::RefCell::new(Vec::new());
    let refused = std::cell::Cell::new(0);
    runner
        .run(
            &(name(), proptest::collection::vec(name(), 1..3)),
            |(login, targets)| {
                match rule(&login, &targets.join(",")) {
                    Some(r) => {
                        // Exactly the accounts named, nothing wider.
                        prop_assert!(
                            !r.contains("(ALL") && !r.contains(",ALL") && !r.starts_with("ALL "),
                            "{r}"
                        );
                        rules.borrow_mut().push(r);
                    }
                    None => refused.set(refused.get() + 1),
                }
                Ok(())
            },
        )
        .unwrap();
    let (rules, refused) = (rules.into_inner(), refused.get());
    assert!(
        rules.len() > 100 && refused > 10,
        "{} accepted, {refused} refused",
        rules.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules");
    std::fs::write(&file, rules.concat()).unwrap();
    let out = Command::new(visudo).arg("-cf").arg(&file).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "visudo refuses a rule hadeploy writes:\n{said}");
    // Anything beyond "parsed OK" is a warning (an undefined alias...).
    let extra: Vec<&str> = said.lines().filter(|l| !l.ends_with("parsed OK")).collect();
    assert!(extra.is_empty(), "visudo warns about a rule hadeploy writes:\n{said}");
}
