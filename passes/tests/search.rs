//! The architecture search's genome, variant rules, evolution and Pareto front, with a synthetic measure
//! in place of training.

use std::collections::HashSet;

use irc_passes::search::{Candidate, Genome, SearchOptions, VARIANT_RULES, evolve, pareto_front};

fn cfg(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn settings_round_trip_per_layer() {
    let g = Genome::from_config(3, &cfg(&[("attn", "softmax,linear,dconv"), ("act", "squared_relu"), ("d", "64")]))
        .unwrap();
    assert_eq!(g.get(1, "attn"), Some("linear"));
    assert_eq!(g.get(2, "act"), Some("squared_relu"));
    assert_eq!(g.get(0, "mlp"), Some("dense"));
    assert_eq!(Genome::from_config(3, &g.config()).unwrap(), g);
    assert!(g.config().contains(&("act".to_string(), "squared_relu".to_string())), "uniform values stay one value");
    assert_eq!(g.to_string(), "softmax/squared_relu/dense | linear/squared_relu/dense | dconv/squared_relu/dense");
    assert!(Genome::from_config(3, &cfg(&[("attn", "softmax,linear")])).unwrap_err().contains("2 values for 3 layers"));
}

#[test]
fn rules_change_one_layer_and_keep_genomes_valid() {
    let g = Genome::vanilla(2);
    let moves = g.moves();
    assert!(!moves.is_empty());
    for (rule, layer) in &moves {
        let child = g.apply(rule, *layer).unwrap();
        assert_eq!(child.get(*layer, rule.key), Some(rule.to));
        assert_eq!(child.get(1 - layer, rule.key), g.get(1 - layer, rule.key), "{}", rule.name);
    }
    // Scalable-Softmax only over softmax scores, and linear attention only without it.
    let ssmax = VARIANT_RULES.iter().find(|r| r.name == "ssmax").unwrap();
    let linear = VARIANT_RULES.iter().find(|r| r.name == "linear-attn").unwrap();
    let with_ssmax = g.apply(ssmax, 0).unwrap();
    assert!(with_ssmax.apply(linear, 0).is_none());
    assert!(with_ssmax.apply(linear, 1).is_some());
    let lin = g.apply(linear, 0).unwrap();
    assert!(lin.apply(ssmax, 0).is_none());
    // Every rule's target is a value some other rule starts from or the vanilla value: moves can be undone.
    for r in VARIANT_RULES {
        assert!(VARIANT_RULES.iter().any(|b| b.key == r.key && b.from.contains(&r.to)), "{} cannot be undone", r.name);
    }
}

/// A synthetic loss: linear attention and Monarch are worse, squared ReLU better; time the other way.
fn synthetic(c: &Candidate) -> Result<(f64, f64), String> {
    let (mut loss, mut ms) = (3.0, 10.0);
    for l in 0..c.genome.layers() {
        match c.genome.get(l, "attn") {
            Some("linear" | "gla") => (loss, ms) = (loss + 0.2, ms - 2.0),
            Some("dconv") => (loss, ms) = (loss - 0.05, ms + 1.0),
            _ => {}
        }
        if c.genome.get(l, "act") == Some("squared_relu") {
            loss -= 0.1;
        }
        if c.genome.get(l, "mlp") == Some("monarch") {
            (loss, ms) = (loss + 0.1, ms - 3.0);
        }
    }
    Ok((loss, ms))
}

#[test]
fn evolution_is_reproducible_for_a_seed_and_never_repeats_a_genome() {
    let opts = SearchOptions { seed: 7, budget: 20, population: 5, tournament: 3 };
    let a = evolve(&Genome::vanilla(2), &opts, synthetic).unwrap();
    let b = evolve(&Genome::vanilla(2), &opts, synthetic).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 20);
    assert_eq!(a[0].genome, Genome::vanilla(2));
    let distinct: HashSet<&Genome> = a.iter().map(|c| &c.genome).collect();
    assert_eq!(distinct.len(), a.len());
    for c in &a[1..] {
        let (rule, layer) = c.mutation.unwrap();
        let parent = &a[c.parent.unwrap()];
        assert!(parent.id < c.id);
        assert_eq!(parent.genome.apply(rule, layer).as_ref(), Some(&c.genome));
    }
    let other = evolve(&Genome::vanilla(2), &SearchOptions { seed: 8, ..opts }, synthetic).unwrap();
    assert_ne!(a, other, "another seed explores differently");
    // Selection by loss finds the synthetic optimum's direction: squared ReLU in both layers.
    let best = a.iter().min_by(|x, y| x.loss.total_cmp(&y.loss)).unwrap();
    assert!(best.loss < a[0].loss, "{best:?}");
}

#[test]
fn the_search_stops_when_every_genome_was_tried() {
    // One layer has 4 attn x 2 ssmax x 5 act x 2 mlp values, minus invalid pairs: well under 1000.
    let opts = SearchOptions { seed: 1, budget: 1000, population: 50, tournament: 2 };
    let all = evolve(&Genome::vanilla(1), &opts, synthetic).unwrap();
    assert!(all.len() < 1000);
    assert!(all.iter().all(|c| c.genome.is_valid()));
}

#[test]
fn errors_from_the_measure_stop_the_search() {
    let err = evolve(&Genome::vanilla(1), &SearchOptions::default(), |c| {
        if c.id == 2 { Err(format!("candidate {} failed", c.id)) } else { synthetic(c) }
    });
    assert_eq!(err.unwrap_err(), "candidate 2 failed");
}

#[test]
fn the_pareto_front_keeps_exactly_the_undominated() {
    let c =
        |id, loss, step_ms| Candidate { id, genome: Genome::vanilla(1), parent: None, mutation: None, loss, step_ms };
    let cands = vec![
        c(0, 3.0, 10.0),
        c(1, 2.9, 12.0),
        c(2, 3.1, 11.0), // dominated by 0
        c(3, 2.5, 20.0),
        c(4, f64::NAN, 1.0), // diverged
        c(5, 3.0, 10.0),     // ties 0 on both: kept
        c(6, 3.2, 8.0),
    ];
    assert_eq!(pareto_front(&cands), vec![6, 0, 5, 1, 3]);
}
