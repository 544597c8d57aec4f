//! The rule for the paths of a description's folders and files, on the
//! cases the collection's action plugin is tested on too
//! (`tests/fixtures/host-paths.json`, tests/module).

#[test]
fn host_paths_are_refused_as_the_shared_cases_say() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/host-paths.json");
    let cases: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let (p, refused) = (c[0].as_str().unwrap(), c[1].as_bool().unwrap());
            (hadeploy_model::system::host_path_refused(p) != refused).then(|| format!("{p:?} refused: {refused}"))
        })
        .collect();
    assert!(wrong.is_empty(), "not as the cases say: {wrong:?}");
}
