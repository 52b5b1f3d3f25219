//! `irc search`: evolve per-layer variants of a zoo language model (`irc_passes::search`), training each
//! candidate for a fixed number of steps on the corpus and measuring validation loss and step time.

use std::fmt::Write as _;
use std::time::Instant;

use irc_passes::Optimizer;
use irc_passes::search::{Candidate, Genome, LAYER_KEYS, SearchOptions, evolve, pareto_front};
use irc_runtime::{Corpus, Schedule, Split, Trainer};

use crate::cli::SearchArgs;
use crate::commands::write_text;
use crate::error::{CliError, Result};
use crate::load::parse_config;
use crate::report::{FrontPoint, write_front_svg};
use crate::train::{feed, mean_loss};

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

fn run_err(e: impl std::fmt::Display) -> CliError {
    CliError::Run(e.to_string())
}

/// The zoo model's name, after checking it has the per-layer keys.
fn searchable(args: &SearchArgs) -> Result<&str> {
    let name = args
        .model
        .file
        .strip_prefix("zoo:")
        .ok_or_else(|| usage(format!("`{}`: search needs a zoo language model, e.g. zoo:lm", args.model.file)))?;
    let info = irc_frontends::zoo::model_info(name).ok_or_else(|| CliError::Zoo(format!("unknown model `{name}`")))?;
    let missing: Vec<&str> =
        LAYER_KEYS.iter().map(|(k, _)| *k).filter(|k| !info.all_keys().any(|c| c.name == *k)).collect();
    if !missing.is_empty() {
        return Err(usage(format!(
            "zoo:{name} has no per-layer {} settings to search; use zoo:lm, zoo:primer, zoo:monarch-lm, zoo:linear-lm or zoo:gla-lm",
            missing.join(", ")
        )));
    }
    Ok(name)
}

/// The model's settings with the genome's per-layer choices and `loss=true`.
fn candidate_config(base: &[(String, String)], genome: &Genome) -> Vec<(String, String)> {
    let mut config: Vec<(String, String)> =
        base.iter().filter(|(k, _)| k != "loss" && !LAYER_KEYS.iter().any(|(l, _)| l == k)).cloned().collect();
    config.extend(genome.config());
    config.push(("loss".into(), "true".into()));
    config
}

pub fn search(args: &SearchArgs) -> Result<()> {
    let name = searchable(args)?;
    if args.steps == 0 || args.budget == 0 {
        return Err(usage("--steps and --budget must be at least 1"));
    }
    let base = parse_config(&args.model.config)?;
    let info = irc_frontends::zoo::model_info(name).expect("checked");
    let setting = |key: &str| {
        base.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| info.all_keys().find(|k| k.name == key).map(|k| k.default.to_string()))
    };
    let layers: usize = setting("layers").and_then(|v| v.parse().ok()).ok_or_else(|| usage("bad `layers` setting"))?;
    let mut start = base.clone();
    for (key, _) in LAYER_KEYS {
        if !start.iter().any(|(k, _)| k == key) {
            start.push((key.to_string(), setting(key).unwrap_or_default()));
        }
    }
    let genome = Genome::from_config(layers, &start).map_err(usage)?;
    if let Some(max) = setting("max_seq").and_then(|v| v.parse::<usize>().ok())
        && args.seq > max
    {
        return Err(usage(format!(
            "--seq {} exceeds the model's max_seq {max}: add -c max_seq={}",
            args.seq, args.seq
        )));
    }

    let corpus = Corpus::bundled();
    let val_batches = corpus.val_batches(args.batch, args.seq, args.eval_batches).map_err(run_err)?;
    let dir = args.out.join("candidates");
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Io { path: dir.display().to_string(), source })?;
    let opts = SearchOptions {
        seed: args.seed,
        budget: args.budget,
        population: args.population,
        tournament: args.tournament,
    };
    eprintln!(
        "searching zoo:{name} ({layers} layers) on {}: {} candidates x {} steps, batch {} x seq {}, seed {}",
        args.backend, args.budget, args.steps, args.batch, args.seq, args.seed
    );
    println!("{:>3} {:>6} {:<22} {:>9} {:>9}  layers", "id", "parent", "mutation", "val loss", "ms/step");
    let clock = Instant::now();
    let results = evolve(&genome, &opts, |c: &Candidate| {
        let config = candidate_config(&base, &c.genome);
        let g = irc_frontends::zoo::build(name, &config).map_err(|e| CliError::Zoo(e.to_string()))?;
        write_text(Some(&dir.join(format!("{}.irc", c.id))), &irc_ir::print(&g))?;
        let opt = Optimizer::AdamW { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
        let mut tr = Trainer::on(args.backend, g, "loss", opt, Some(1.0), args.seed).map_err(run_err)?;
        let schedule = Schedule { base: args.lr, warmup: (args.steps / 10).max(1), total: args.steps, min_ratio: 0.1 };
        let mut times = Vec::new();
        for step in 1..=args.steps {
            let batch = corpus.batch(Split::Train, args.batch, args.seq, args.seed, step).map_err(run_err)?;
            let t = Instant::now();
            tr.step(feed(batch), schedule.lr(step)).map_err(run_err)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (loss, ms) = (mean_loss(&mut tr, &val_batches)?, irc_runtime::median(times));
        let parent = c.parent.map_or("-".into(), |p| p.to_string());
        let mutation = c.mutation.map_or("start".into(), |(r, l)| format!("{} @{l}", r.name));
        println!("{:>3} {parent:>6} {mutation:<22} {loss:>9.4} {ms:>9.2}  {}", c.id, c.genome);
        Ok::<_, CliError>((loss, ms))
    })?;

    let front = pareto_front(&results);
    println!("\nPareto front (fastest first):");
    println!("{:>3} {:>9} {:>9}  settings", "id", "val loss", "ms/step");
    for &i in &front {
        let c = &results[i];
        let settings: Vec<String> = c.genome.config().iter().map(|(k, v)| format!("-c {k}={v}")).collect();
        println!("{:>3} {:>9.4} {:>9.2}  {}", c.id, c.loss, c.step_ms, settings.join(" "));
    }
    write_text(Some(&args.out.join("results.csv")), &results_csv(&results, &front))?;
    let points: Vec<FrontPoint> = results
        .iter()
        .enumerate()
        .map(|(i, c)| FrontPoint {
            label: format!("{}", c.id),
            step_ms: c.step_ms,
            loss: c.loss,
            on_front: front.contains(&i),
        })
        .collect();
    write_front_svg(&args.out.join("front.svg"), &points)?;
    println!(
        "\n{} candidates in {:.1} s; wrote {}, {} and {}",
        results.len(),
        clock.elapsed().as_secs_f64(),
        args.out.join("results.csv").display(),
        args.out.join("front.svg").display(),
        dir.display()
    );
    println!(
        "retrain one: irc train {} -c KEY=VALUE ... (settings above), or irc train {}/N.irc",
        args.model.file,
        dir.display()
    );
    Ok(())
}

fn results_csv(results: &[Candidate], front: &[usize]) -> String {
    let mut out = String::from("id,parent,mutation,layer,val_loss,step_ms,on_front");
    for (k, _) in LAYER_KEYS {
        let _ = write!(out, ",{k}");
    }
    out.push('\n');
    for (i, c) in results.iter().enumerate() {
        let (rule, layer) =
            c.mutation.map_or(("start".to_string(), String::new()), |(r, l)| (r.name.into(), l.to_string()));
        let parent = c.parent.map(|p| p.to_string()).unwrap_or_default();
        let _ = write!(out, "{},{parent},{rule},{layer},{:.6},{:.3},{}", c.id, c.loss, c.step_ms, front.contains(&i));
        for (k, v) in c.genome.config() {
            debug_assert!(LAYER_KEYS.iter().any(|(l, _)| *l == k));
            // Per-layer values are joined with `;` so the CSV keeps its columns.
            let _ = write!(out, ",{}", v.replace(',', ";"));
        }
        out.push('\n');
    }
    out
}
