//! One launch: checking sizes against i32 and the device limits, choosing the binding plan (each device
//! buffer bound once; read-only buffers beyond the storage-binding limit packed into one), fetching or
//! building the pipeline, and recording the dispatch.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, PoisonError};

use irc_codegen::kir::{Access, Kernel};
use irc_codegen::wgsl::{BindingPlan, UniformLayout, compile_wgsl};

use super::{MAX_PENDING_LAUNCHES, WORD, WgpuBackend, WgpuBuffer, WgpuError, WgpuKernel};
use crate::backend::Arg;

/// A compute pipeline and the layout of its one bind group.
pub(super) struct Pipeline {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// One storage binding of a launch: its data, whether the kernel writes it, whether it holds native f16.
struct Slot<'a> {
    source: Source<'a>,
    writable: bool,
    half: bool,
}

/// Where one storage binding's data comes from.
enum Source<'a> {
    Buffer(&'a wgpu::Buffer),
    /// The pack built for this launch.
    Pack,
}

fn limit(msg: String) -> WgpuError {
    WgpuError::Limit(msg)
}

/// `v` as an i32 for the shader, or a clear error naming what it is.
fn to_i32(v: i64, what: impl FnOnce() -> String) -> Result<i32, WgpuError> {
    i32::try_from(v).map_err(|_| limit(format!("{} = {v} does not fit the shader's i32 index arithmetic", what())))
}

impl WgpuBackend {
    pub(super) fn record(
        &self,
        compiled: &WgpuKernel,
        kernel: &Kernel,
        args: &[Arg<'_, WgpuBuffer>],
        sizes: &[i64],
    ) -> Result<(), WgpuError> {
        let name = &kernel.name;
        if args.len() != kernel.buffers.len() || sizes.len() != kernel.sizes.len() {
            return Err(WgpuError::Device(format!("kernel `{name}`: wrong number of arguments or sizes")));
        }
        let mut total: i64 = 1;
        for (_, extent) in &kernel.grid {
            let e = extent.eval_size(sizes).ok_or_else(|| limit(format!("kernel `{name}`: grid extent overflows")))?;
            total = total.checked_mul(e.max(0)).unwrap_or(i64::MAX);
        }
        to_i32(total, || format!("kernel `{name}`: grid size"))?;
        let mut uniforms = vec![0i32; UniformLayout::of(kernel).entries()];
        let layout = UniformLayout::of(kernel);
        for (i, &s) in sizes.iter().enumerate() {
            uniforms[layout.size_entry(i)] = to_i32(s, || format!("kernel `{name}`: size `{}`", kernel.sizes[i]))?;
        }
        uniforms[layout.total_entry()] = total as i32;

        // Bind each device buffer once; pack read-only word buffers past the limit into one.
        let mut slot_of: HashMap<u64, usize> = HashMap::new();
        let mut slots: Vec<Slot> = Vec::new();
        let mut arg_slot = Vec::with_capacity(args.len());
        for (a, decl) in args.iter().zip(&kernel.buffers) {
            let s = *slot_of.entry(a.mem.id).or_insert_with(|| {
                slots.push(Slot { source: Source::Buffer(&a.mem.buffer), writable: false, half: a.mem.half });
                slots.len() - 1
            });
            slots[s].writable |= decl.access == Access::Write;
            arg_slot.push(s);
        }
        let max = self.gpu.storage_buffers as usize;
        // Offsets in elements of the argument's binding.
        let mut offsets: Vec<usize> = args.iter().map(|a| a.offset / a.mem.elem_bytes()).collect();
        let mut packed: Vec<(usize, usize, usize)> = Vec::new(); // (arg, source word offset, words)
        if slots.len() > max {
            // Written buffers and native f16 ones stay bound; the pack holds words.
            let fixed = slots.iter().filter(|s| s.writable || s.half).count();
            if fixed >= max {
                return Err(limit(format!(
                    "kernel `{name}` writes or reads as f16 {fixed} buffers; the device binds at most {max} storage \
                     buffers"
                )));
            }
            // Keep those and the first other ones; the rest go into the pack (slot `max - 1`).
            let mut keep = vec![false; slots.len()];
            let mut room = max - 1 - fixed;
            for (s, slot) in slots.iter().enumerate() {
                keep[s] = slot.writable
                    || slot.half
                    || (room > 0 && {
                        room -= 1;
                        true
                    });
            }
            let mut renumber = vec![usize::MAX; slots.len()];
            let mut kept = Vec::new();
            for (s, slot) in slots.into_iter().enumerate() {
                if keep[s] {
                    renumber[s] = kept.len();
                    kept.push(slot);
                }
            }
            let pack_slot = kept.len();
            kept.push(Slot { source: Source::Pack, writable: false, half: false });
            let mut pack_words = 0;
            for (i, s) in arg_slot.iter_mut().enumerate() {
                if keep[*s] {
                    *s = renumber[*s];
                } else {
                    let words = args[i].len.max(1);
                    packed.push((i, offsets[i], words));
                    offsets[i] = pack_words;
                    pack_words += words;
                    *s = pack_slot;
                }
            }
            slots = kept;
        }
        for (i, (a, &o)) in args.iter().zip(&offsets).enumerate() {
            let end = o as i64 + a.len.max(1) as i64;
            to_i32(end, || format!("kernel `{name}`: the end of argument `{}`", kernel.buffers[i].name))?;
            uniforms[layout.offset_entry(i)] = o as i32;
        }
        let plan = BindingPlan {
            arg_slot,
            writable: slots.iter().map(|s| s.writable).collect(),
            half: slots.iter().map(|s| s.half).collect(),
        };
        let pipeline = self.pipeline(compiled, kernel, &plan)?;

        let groups = match kernel.lanes {
            Some(_) => total as u64,
            None => (total as u64).div_ceil(compiled.wgsl.workgroup_size as u64),
        };
        if groups == 0 {
            return Ok(());
        }
        let max_dim = self.gpu.limits.max_compute_workgroups_per_dimension as u64;
        let x = groups.min(max_dim);
        let y = groups.div_ceil(x);
        if y > max_dim {
            return Err(limit(format!("kernel `{name}`: {groups} workgroups exceed a 2-D dispatch")));
        }

        let device = &self.gpu.device;
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (uniforms.len() * WORD) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.gpu.queue.write_buffer(&uniform, 0, bytemuck::cast_slice(&uniforms));
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let encoder = pending
            .encoder
            .get_or_insert_with(|| device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default()));
        let pack = if packed.is_empty() {
            None
        } else {
            let words = packed.iter().map(|p| p.2).sum::<usize>();
            let pack = self.buffer(words, false)?;
            let mut at = 0;
            for &(i, from, words) in &packed {
                let bytes = (words * WORD) as u64;
                encoder.copy_buffer_to_buffer(&args[i].mem.buffer, (from * WORD) as u64, &pack.buffer, at, bytes);
                at += bytes;
            }
            Some(pack)
        };
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        for (s, slot) in slots.iter().enumerate() {
            let buffer = match slot.source {
                Source::Buffer(b) => b,
                Source::Pack => &pack.as_ref().expect("a pack slot has a pack").buffer,
            };
            entries.push(wgpu::BindGroupEntry { binding: s as u32 + 1, resource: buffer.as_entire_binding() });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.layout,
            entries: &entries,
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(x as u32, y as u32, 1);
        }
        pending.launches += 1;
        if pending.launches >= MAX_PENDING_LAUNCHES {
            drop(pending);
            self.flush();
        }
        Ok(())
    }

    /// The pipeline of `kernel` under `plan`: from the kernel's own variants, else from the backend's cache
    /// by the hash of the WGSL text, else built.
    fn pipeline(&self, compiled: &WgpuKernel, kernel: &Kernel, plan: &BindingPlan) -> Result<Arc<Pipeline>, WgpuError> {
        let mut variants = compiled.variants.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = variants.get(plan) {
            return Ok(p.clone());
        }
        let source =
            if *plan == compiled.wgsl.plan { compiled.wgsl.source.clone() } else { compile_wgsl(kernel, plan)?.source };
        let mut hasher = DefaultHasher::new();
        source.hash(&mut hasher);
        let key = hasher.finish();
        let mut cache = self.pipelines.lock().unwrap_or_else(PoisonError::into_inner);
        let p = match cache.get(&key) {
            Some(p) => p.clone(),
            None => {
                let p = Arc::new(self.build_pipeline(&kernel.name, &source, &plan.writable));
                cache.insert(key, p.clone());
                p
            }
        };
        variants.insert(plan.clone(), p.clone());
        Ok(p)
    }

    fn build_pipeline(&self, name: &str, source: &str, writable: &[bool]) -> Pipeline {
        let device = &self.gpu.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(source)),
        });
        let buffer = |ty| wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None };
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: buffer(wgpu::BufferBindingType::Uniform),
            count: None,
        }];
        for (s, &w) in writable.iter().enumerate() {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: s as u32 + 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: buffer(wgpu::BufferBindingType::Storage { read_only: !w }),
                count: None,
            });
        }
        let layout =
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: None, entries: &entries });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Pipeline { pipeline, layout }
    }
}
