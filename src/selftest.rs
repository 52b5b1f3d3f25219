//! `irc selftest`: the differential suite of `irc_check::selftest` on one backend, a line per case.

use std::time::Instant;

use irc_check::selftest::{Case, Options, Outcome, describe, run};

use crate::cli::SelftestArgs;
use crate::error::{CliError, Result};

pub fn selftest(args: &SelftestArgs) -> Result<()> {
    let err = |e: irc_runtime::RunError| CliError::Run(e.to_string());
    println!("selftest on {} ({}){}", args.backend, describe(args.backend).map_err(err)?, quick(args.quick));
    let opts = Options {
        backend: args.backend,
        quick: args.quick,
        filter: args.filter.clone(),
        save_failures: args.save_failures.clone(),
    };
    let start = Instant::now();
    let mut print = |c: &Case| match &c.outcome {
        Outcome::Pass if !args.failures_only => println!("ok    {} ({:.3} s)", c.name, c.seconds),
        Outcome::Pass => {}
        Outcome::Skip(why) if !args.failures_only => println!("skip  {}: {why}", c.name),
        Outcome::Skip(_) => {}
        Outcome::Fail(e) => println!("FAIL  {} ({:.3} s): {}", c.name, c.seconds, e.replace('\n', "\n      ")),
    };
    let s = run(&opts, &mut print).map_err(err)?;
    let total = s.passed + s.failed + s.skipped;
    println!(
        "selftest on {}: {} passed, {} failed, {} skipped of {total} cases in {:.1} s",
        args.backend,
        s.passed,
        s.failed,
        s.skipped,
        start.elapsed().as_secs_f64()
    );
    if total == 0 {
        return Err(CliError::Usage(format!("no case matches --filter {}", args.filter.as_deref().unwrap_or(""))));
    }
    match s.failed {
        0 => Ok(()),
        n => Err(CliError::Run(format!("selftest: {n} of {total} cases failed on {}", args.backend))),
    }
}

fn quick(q: bool) -> &'static str {
    if q { ", quick" } else { "" }
}
