//! The worker threads that launches split their grids over: started once and kept, so a launch costs a
//! wake-up per worker instead of a thread spawn (about 50 µs each on the development VM, paid by every
//! multi-threaded launch of a training step).
//!
//! A job is plain data (the kernel's entry point, its argument tables and a range of grid indices) and
//! its launch waits for every job it sent before returning, so the pointers stay valid while they are
//! used. Launches from several threads at once share the workers: each waits for its own replies.

use std::ops::Range;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock};

use irc_codegen::cranelift::KernelFn;

/// One chunk of a launch.
struct Job {
    entry: KernelFn,
    args: *const *mut u8,
    sizes: *const i64,
    range: Range<i64>,
    done: Sender<()>,
}

// SAFETY: the pointers are only passed to the kernel, under `run`'s contract: they stay valid until the
// launch has received `done` for the job, and the threads touch disjoint grid indices.
unsafe impl Send for Job {}

/// The workers' queues; grown on demand, never shrunk (the threads live as long as the process).
fn workers() -> &'static Mutex<Vec<Sender<Job>>> {
    static WORKERS: OnceLock<Mutex<Vec<Sender<Job>>>> = OnceLock::new();
    WORKERS.get_or_init(|| Mutex::new(Vec::new()))
}

fn work(jobs: Receiver<Job>) {
    for job in jobs {
        // SAFETY: `run`'s caller guarantees the arguments for this range (see `Job`).
        unsafe { (job.entry)(job.args, job.sizes, job.range.start, job.range.end) };
        // The launch may have given up waiting only by panicking, which it does not do.
        let _ = job.done.send(());
    }
}

/// Runs `entry` over each of `chunks`: the first on the calling thread, the others on workers (or on the
/// calling thread too, should a worker fail to start); returns when all are done.
///
/// # Safety
/// As [`irc_codegen::cranelift::CompiledKernel::run`] for each chunk, with disjoint chunks: `args` and
/// `sizes` hold what the kernel reads for every chunk, and written buffers are not accessed by anyone
/// else until this returns.
pub(super) unsafe fn run(entry: KernelFn, args: &[*mut u8], sizes: &[i64], chunks: &[Range<i64>]) {
    let Some((first, rest)) = chunks.split_first() else { return };
    let (done, replies) = channel();
    let mut here = vec![first.clone()];
    let mut sent = 0;
    {
        let mut queues = workers().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (i, range) in rest.iter().enumerate() {
            if i == queues.len() {
                let (queue, jobs) = channel();
                let spawned = std::thread::Builder::new().name(format!("irc-cpu-{}", i + 1)).spawn(move || work(jobs));
                if spawned.is_ok() {
                    queues.push(queue);
                }
            }
            let job =
                Job { entry, args: args.as_ptr(), sizes: sizes.as_ptr(), range: range.clone(), done: done.clone() };
            match queues.get(i).map(|q| q.send(job)) {
                Some(Ok(())) => sent += 1,
                _ => here.push(range.clone()),
            }
        }
    }
    // Only the jobs hold senders now: should a worker die without replying, `recv` fails instead of
    // waiting forever.
    drop(done);
    for range in here {
        // SAFETY: forwarded from this function's contract.
        unsafe { entry(args.as_ptr(), sizes.as_ptr(), range.start, range.end) };
    }
    for _ in 0..sent {
        if replies.recv().is_err() {
            break;
        }
    }
}
