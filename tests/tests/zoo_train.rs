//! A short training run of each zoo family on the bundled corpus with the CPU backend: the validation
//! loss must end clearly below the corpus's unigram baseline (the loss of a model that knows only
//! byte frequencies), the same bar as `train.rs` sets for `gpt-tiny`. One block of width 32, 2 heads,
//! AdamW at lr 1e-2 with warmup and cosine decay, 80 steps of 8 x 32 bytes, seed 0 (about 7 s each on
//! two cores).

use std::collections::HashMap;
use std::time::Instant;

use irc_passes::Optimizer;
use irc_runtime::{BackendKind, Corpus, Schedule, Split, Tensor, Trainer};

const STEPS: u64 = 80;

fn feed((tokens, targets): (Tensor, Tensor)) -> HashMap<String, Tensor> {
    HashMap::from([("tokens".to_string(), tokens), ("targets".to_string(), targets)])
}

/// Trains `model` with `extra` settings; returns (first train loss, last train loss, validation loss).
fn train(model: &str, extra: &[(&str, &str)]) -> (f64, f64, f64) {
    let start = Instant::now();
    let mut config = vec![("loss", "true"), ("d", "32"), ("heads", "2"), ("layers", "1"), ("max_seq", "32")];
    config.extend_from_slice(extra);
    let config: Vec<(String, String)> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let g = irc_frontends::build(model, &config).unwrap();
    let corpus = Corpus::bundled();
    let mut tr = Trainer::on(BackendKind::Cpu, g, "loss", Optimizer::adamw(), Some(1.0), 0).unwrap();
    let schedule = Schedule { base: 1e-2, warmup: 6, total: STEPS, min_ratio: 0.1 };
    let mut losses = Vec::new();
    for step in 1..=STEPS {
        let batch = feed(corpus.batch(Split::Train, 8, 32, 0, step).unwrap());
        losses.push(tr.step(batch, schedule.lr(step)).unwrap());
    }
    let val = corpus.val_batches(8, 32, 4).unwrap();
    let val_loss = val.into_iter().map(|b| tr.eval(&feed(b)).unwrap()).sum::<f64>() / 4.0;
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    eprintln!(
        "{model} {extra:?}: {STEPS} steps, train loss {first:.4} -> {last:.4}, val {val_loss:.4} \
         (unigram baseline {:.4}), {:.1} s",
        corpus.unigram_val_cross_entropy(),
        start.elapsed().as_secs_f64()
    );
    (first, last, val_loss)
}

#[track_caller]
fn check(model: &str, extra: &[(&str, &str)]) {
    let baseline = Corpus::bundled().unigram_val_cross_entropy();
    let (first, last, val) = train(model, extra);
    // Untrained, the model is near uniform over 256 bytes (ln 256 = 5.55).
    assert!(first > 5.0, "{model}: first loss {first}");
    assert!(last < first - 2.0, "{model}: train loss {first} -> {last}");
    assert!(
        val < baseline - 0.2,
        "{model}: validation loss {val} is not clearly below the unigram baseline {baseline}"
    );
}

#[test]
fn primer_trains() {
    check("primer", &[]);
}

#[test]
fn monarch_lm_trains() {
    check("monarch-lm", &[]);
}

#[test]
fn linear_lm_trains() {
    check("linear-lm", &[]);
}

#[test]
fn gla_lm_trains() {
    check("gla-lm", &[]);
}

#[test]
fn scalable_softmax_lm_trains() {
    check("lm", &[("ssmax", "1")]);
}
