//! Renders a description into a project folder:
//! `cargo run -p hadeploy-codegen --example render -- OUT_DIR --src FILE ...`.

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().expect("usage: render OUT_DIR SRC..."));
    let srcs: Vec<_> = args
        .filter(|a| a != "--src")
        .map(|a| hadeploy_model::SrcArg::parse(&a))
        .collect();
    let model = hadeploy_model::load(&srcs).unwrap_or_else(|d| {
        eprintln!("{d}");
        std::process::exit(1)
    });
    let project = hadeploy_codegen::render(&model, &hadeploy_codegen::Options::default()).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    hadeploy_codegen::write(&project, &out).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
}
