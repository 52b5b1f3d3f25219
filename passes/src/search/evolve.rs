//! Regularized evolution: a population of the most recent candidates; each new candidate is one variant
//! rule applied to the best of a random sample of the population (by validation loss), and the oldest
//! candidate leaves. Selection reads losses only, so for a seed the sequence of candidates and, with
//! deterministic training, their losses are reproducible; step times are measurements and are used only
//! for the Pareto front.

use std::collections::{HashSet, VecDeque};

use irc_ir::Rng;

use super::{Genome, VariantRule};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOptions {
    pub seed: u64,
    /// Candidates to train and measure, the starting model included.
    pub budget: usize,
    /// Candidates kept alive.
    pub population: usize,
    /// Candidates sampled to pick each parent.
    pub tournament: usize,
}

impl Default for SearchOptions {
    fn default() -> SearchOptions {
        SearchOptions { seed: 0, budget: 12, population: 4, tournament: 2 }
    }
}

/// A measured candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub id: usize,
    pub genome: Genome,
    pub parent: Option<usize>,
    /// The rule and layer that made it from its parent.
    pub mutation: Option<(&'static VariantRule, usize)>,
    /// Validation loss after the fixed training run (NaN when training diverged).
    pub loss: f64,
    /// Median milliseconds per training step.
    pub step_ms: f64,
}

fn rank(loss: f64) -> f64 {
    if loss.is_nan() { f64::INFINITY } else { loss }
}

/// Runs the search from `base`: `measure(candidate)` trains one candidate (its `loss` and `step_ms` are
/// not set yet) and returns `(validation loss, ms per step)`. Stops after `budget` candidates, or early
/// when no rule makes a genome not yet tried. Returns every candidate in the order measured.
pub fn evolve<E>(
    base: &Genome,
    opts: &SearchOptions,
    mut measure: impl FnMut(&Candidate) -> Result<(f64, f64), E>,
) -> Result<Vec<Candidate>, E> {
    let mut rng = Rng::new(opts.seed);
    let mut seen: HashSet<Genome> = HashSet::new();
    let mut history: Vec<Candidate> = Vec::new();
    let mut population: VecDeque<usize> = VecDeque::new();
    while history.len() < opts.budget.max(1) {
        let proposal = if history.is_empty() {
            Some((None, base.clone(), None))
        } else {
            let parent = if population.len() < opts.population.max(1) {
                0 // fill the first population with variants of the starting model
            } else {
                (0..opts.tournament.max(1))
                    .map(|_| population[rng.below(population.len())])
                    .min_by(|&a, &b| rank(history[a].loss).total_cmp(&rank(history[b].loss)))
                    .unwrap_or(0)
            };
            mutate(&history[parent].genome, &seen, &mut rng).map(|(g, m)| (Some(parent), g, Some(m)))
        };
        let Some((parent, genome, mutation)) = proposal else { break };
        seen.insert(genome.clone());
        let mut c = Candidate { id: history.len(), genome, parent, mutation, loss: f64::NAN, step_ms: f64::NAN };
        (c.loss, c.step_ms) = measure(&c)?;
        population.push_back(c.id);
        if population.len() > opts.population.max(1) {
            population.pop_front();
        }
        history.push(c);
    }
    Ok(history)
}

/// A random move from `g` to a genome not in `seen`.
fn mutate(g: &Genome, seen: &HashSet<Genome>, rng: &mut Rng) -> Option<(Genome, (&'static VariantRule, usize))> {
    let mut moves = g.moves();
    while !moves.is_empty() {
        let (rule, layer) = moves.swap_remove(rng.below(moves.len()));
        if let Some(child) = g.apply(rule, layer).filter(|c| !seen.contains(c)) {
            return Some((child, (rule, layer)));
        }
    }
    None
}

/// The positions in `candidates` of those no other candidate beats on both loss and step time (lower is
/// better; ties on both keep both), fastest first. Candidates whose loss is NaN are never on the front.
pub fn pareto_front(candidates: &[Candidate]) -> Vec<usize> {
    let dominated = |c: &Candidate| {
        candidates
            .iter()
            .any(|o| o.loss <= c.loss && o.step_ms <= c.step_ms && (o.loss < c.loss || o.step_ms < c.step_ms))
    };
    let mut front: Vec<usize> =
        (0..candidates.len()).filter(|&i| candidates[i].loss.is_finite() && !dominated(&candidates[i])).collect();
    front.sort_by(|&a, &b| candidates[a].step_ms.total_cmp(&candidates[b].step_ms));
    front
}
