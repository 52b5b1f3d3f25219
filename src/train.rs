//! `irc train`: the training loop around the runtime's [`Trainer`], with progress, evaluation and reports.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use irc_ir::Graph;
use irc_passes::Optimizer;
use irc_runtime::{Corpus, Schedule, Split, Tensor, Trainer};

use crate::cli::{OptimizerKind, TrainArgs};
use crate::error::{CliError, Result};
use crate::load::{load_model, parse_config};
use crate::report::{LossRow, progress_line, write_csv, write_loss_svg};

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

fn run_err(e: impl std::fmt::Display) -> CliError {
    CliError::Run(e.to_string())
}

/// Loads the model to train; zoo models with a `loss` setting get `loss=true` unless told otherwise.
fn load_trainable(args: &TrainArgs) -> Result<Graph> {
    let mut config = args.model.config.clone();
    if let Some(name) = args.model.file.strip_prefix("zoo:") {
        let info = irc_frontends::zoo::model_info(name);
        let has_loss_key = info.is_some_and(|m| m.all_keys().any(|k| k.name == "loss"));
        let set: Vec<(String, String)> = parse_config(&config)?;
        if has_loss_key && !set.iter().any(|(k, _)| k == "loss") {
            config.push("loss=true".into());
        }
        if let Some(max) =
            set.iter().find(|(k, _)| k == "max_seq").map(|(_, v)| v.clone()).or_else(|| {
                info.and_then(|m| m.all_keys().find(|k| k.name == "max_seq")).map(|k| k.default.to_string())
            })
            && max.parse::<usize>().is_ok_and(|m| args.seq > m)
        {
            return Err(usage(format!(
                "--seq {} exceeds the model's max_seq {max}: add -c max_seq={}",
                args.seq, args.seq
            )));
        }
    }
    let g = load_model(&args.model.file, &config)?;
    let int_input = |name: &str| g.inputs().any(|(_, n, t)| n == name && t.dtype.is_int() && t.rank() == 2);
    let scalar_loss = g.outputs().iter().any(|o| o.name == "loss" && g.ty(o.node).shape.numel() == Some(1));
    if !int_input("tokens") || !int_input("targets") || !scalar_loss {
        return Err(usage(format!(
            "`{}` is not trainable: it needs integer inputs `tokens` and `targets` of shape [B, T] and a scalar output `loss`",
            args.model.file
        )));
    }
    Ok(g)
}

pub(crate) fn feed((tokens, targets): (Tensor, Tensor)) -> HashMap<String, Tensor> {
    HashMap::from([("tokens".to_string(), tokens), ("targets".to_string(), targets)])
}

pub(crate) fn mean_loss(tr: &mut Trainer, batches: &[(Tensor, Tensor)]) -> Result<f64> {
    let mut sum = 0.0;
    for b in batches {
        sum += tr.eval(&feed(b.clone())).map_err(run_err)?;
    }
    Ok(sum / batches.len() as f64)
}

pub fn train(args: &TrainArgs) -> Result<()> {
    if args.steps == 0 {
        return Err(usage("--steps must be at least 1"));
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        return Err(usage(format!("--lr must be a positive number, got {}", args.lr)));
    }
    let corpus = match &args.corpus {
        Some(p) => Corpus::load(p).map_err(run_err)?,
        None => Corpus::bundled(),
    };
    let val_batches = corpus.val_batches(args.batch, args.seq, args.eval_batches).map_err(run_err)?;
    let train_probe = corpus.fixed_batches(Split::Train, args.batch, args.seq, args.eval_batches).map_err(run_err)?;
    corpus.batch(Split::Train, args.batch, args.seq, args.seed, 1).map_err(run_err)?;

    let g = load_trainable(args)?;
    let opt = match args.optimizer {
        OptimizerKind::Adamw => {
            Optimizer::AdamW { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: args.weight_decay }
        }
        OptimizerKind::Sgd => Optimizer::Sgd { momentum: 0.9, weight_decay: args.weight_decay },
    };
    let clip = (args.clip > 0.0).then_some(args.clip);
    let mut tr = Trainer::on(args.backend, g, "loss", opt, clip, args.seed).map_err(run_err)?;
    if let Some(ckpt) = &args.resume {
        tr.load(ckpt).map_err(run_err)?;
    }
    let start = tr.steps_done();
    let total = start + args.steps;
    let schedule =
        Schedule { base: args.lr, warmup: args.warmup.unwrap_or((total / 10).min(100)), total, min_ratio: 0.1 };
    let eval_every = args.eval_every.unwrap_or((args.steps / 10).max(1)).max(1);
    let baseline = corpus.unigram_val_cross_entropy();
    eprintln!(
        "training {} ({} params) on {} for {} steps: batch {} x seq {}, {:?} lr {}, corpus {} train / {} val bytes",
        args.model.file,
        tr.params().map_err(run_err)?.values().map(Tensor::numel).sum::<usize>(),
        args.backend,
        args.steps,
        args.batch,
        args.seq,
        args.optimizer,
        args.lr,
        corpus.train().len(),
        corpus.val().len()
    );

    let tty = std::io::stderr().is_terminal();
    let clock = Instant::now();
    let mut rows = Vec::new();
    for step in start + 1..=total {
        let lr = schedule.lr(step);
        let batch = corpus.batch(Split::Train, args.batch, args.seq, args.seed, step).map_err(run_err)?;
        let loss = tr.step(feed(batch), lr).map_err(run_err)?;
        let elapsed = clock.elapsed().as_secs_f64();
        let val = if (step - start) % eval_every == 0 || step == total {
            Some(mean_loss(&mut tr, &val_batches)?)
        } else {
            None
        };
        rows.push(LossRow { step, train_loss: loss, val_loss: val, lr, elapsed_s: elapsed });
        let rate = (step - start) as f64 / elapsed.max(1e-9);
        let line = progress_line(step - start, args.steps, loss, rate, 30);
        if tty {
            eprint!("\r{line}");
            if let Some(v) = val {
                eprintln!("  val {v:.4}");
            }
        } else if let Some(v) = val {
            eprintln!("{line}  val {v:.4}");
        }
        let _ = std::io::stderr().flush();
    }
    let seconds = clock.elapsed().as_secs_f64();

    std::fs::create_dir_all(&args.out)
        .map_err(|source| CliError::Io { path: args.out.display().to_string(), source })?;
    write_csv(&args.out.join("loss.csv"), &rows)?;
    let train_curve: Vec<(u64, f64)> = rows.iter().map(|r| (r.step, r.train_loss)).collect();
    let val_curve: Vec<(u64, f64)> = rows.iter().filter_map(|r| r.val_loss.map(|v| (r.step, v))).collect();
    write_loss_svg(&args.out.join("loss.svg"), &train_curve, &val_curve, Some(("unigram entropy", baseline)))?;
    if let Some(path) = &args.save {
        tr.save(path).map_err(run_err)?;
    }

    let final_train = mean_loss(&mut tr, &train_probe)?;
    let final_val = val_curve.last().map(|v| v.1).unwrap_or(f64::NAN);
    println!("final train loss {final_train:.4}  val loss {final_val:.4}  (nats/byte)");
    println!("unigram entropy baseline {baseline:.4}: val loss is {:.4} below it", baseline - final_val);
    println!("{} steps in {seconds:.1} s ({:.2} steps/s)", args.steps, args.steps as f64 / seconds.max(1e-9));
    println!("wrote {}, {}", show(&args.out.join("loss.csv")), show(&args.out.join("loss.svg")));
    if let Some(path) = &args.save {
        println!("saved checkpoint {}", show(path));
    }
    Ok(())
}

fn show(p: &Path) -> String {
    p.display().to_string()
}
