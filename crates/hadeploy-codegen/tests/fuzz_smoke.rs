//! The `render` fuzz target of `fuzz/`, run on stable as a bounded smoke
//! test: structured descriptions from random choices, each loaded and, when
//! it loads, rendered by the same function the fuzz target calls. The count
//! bounds the run (`HADEPLOY_FUZZ_RUNS`, default 400; `HADEPLOY_FUZZ_SEED`).

use hadeploy_codegen::fuzz::check_render;
use hadeploy_model::fuzz::{check_text, structured};

#[test]
fn render_target_survives_random_descriptions() {
    let runs: usize = std::env::var("HADEPLOY_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut state: u64 = std::env::var("HADEPLOY_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_4ade_9107_0002);
    let mut rendered = 0;
    for i in 0..runs {
        let bytes: Vec<u8> = (0..(i % 300))
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect();
        if let Some(model) = check_text(&structured(&bytes)) {
            check_render(&model);
            rendered += 1;
        }
    }
    assert!(rendered > 0, "no structured description loaded: nothing was rendered");
}
