//! The GPU side: adapter discovery, one process-wide device, compiled pipelines, buffers, and the cache of
//! uploaded feature blocks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use wgpu::util::DeviceExt;

use crate::ComputeError;
use crate::matrix::MatrixRef;

/// What is known about one adapter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdapterInfo {
    /// The adapter's name (`NVIDIA H100 PCIe`, `llvmpipe (LLVM 19.1.7, 256 bits)`).
    pub name: String,
    /// The graphics API (vulkan, metal, dx12, gl).
    pub backend: String,
    /// discrete, integrated, virtual, cpu or other.
    pub device_type: String,
    /// The driver and its version, as the adapter reports them.
    pub driver: String,
    /// Whether the adapter is a software rasterizer on the CPU (Mesa's lavapipe): usable and exact,
    /// but never faster than the CPU twins, so `auto` does not pick it.
    pub software: bool,
    /// Largest buffer, bytes.
    pub max_buffer_bytes: u64,
    /// Largest storage-buffer binding, bytes: feature blocks bigger than this are split by rows.
    pub max_storage_binding_bytes: u64,
    /// Workgroups per dispatch dimension at most.
    pub max_workgroups_per_dimension: u32,
    /// Invocations per workgroup at most.
    pub max_invocations_per_workgroup: u32,
    /// The PCI vendor id (0x10de NVIDIA, 0x1002 AMD, 0x8086 Intel).
    pub vendor: u32,
}

impl AdapterInfo {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let device_type = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => "discrete",
            wgpu::DeviceType::IntegratedGpu => "integrated",
            wgpu::DeviceType::VirtualGpu => "virtual",
            wgpu::DeviceType::Cpu => "cpu",
            wgpu::DeviceType::Other => "other",
        };
        Self {
            name: info.name.clone(),
            backend: info.backend.to_string().to_lowercase(),
            device_type: device_type.into(),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
            software: info.device_type == wgpu::DeviceType::Cpu,
            max_buffer_bytes: limits.max_buffer_size,
            max_storage_binding_bytes: limits.max_storage_buffer_binding_size,
            max_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            vendor: info.vendor,
        }
    }

    /// "NVIDIA H100 (vulkan, discrete)".
    pub fn label(&self) -> String {
        format!("{} ({}, {})", self.name, self.backend, self.device_type)
    }

    /// Preference among adapters: a discrete GPU first, software last.
    fn rank(&self) -> u8 {
        match self.device_type.as_str() {
            "discrete" => 0,
            "integrated" => 1,
            "virtual" => 2,
            "other" => 3,
            _ => 4,
        }
    }
}

fn instance() -> wgpu::Instance {
    // Vulkan, Metal and DX12 only: the GL backend would open display connections on headless machines.
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    descriptor.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(descriptor)
}

/// Every compute-capable adapter of this machine, the preferred one first.
pub fn adapters() -> Vec<AdapterInfo> {
    let mut found: Vec<AdapterInfo> = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::PRIMARY))
        .iter()
        .map(AdapterInfo::of)
        .collect();
    found.sort_by_key(AdapterInfo::rank);
    found
}

/// The adapter `gpu` and hardware-only `auto` would use ([`chosen`] among [`adapters`]), looked up once per
/// process.
pub fn preferred_adapter() -> Option<&'static AdapterInfo> {
    static PREFERRED: OnceLock<Option<AdapterInfo>> = OnceLock::new();
    PREFERRED
        .get_or_init(|| {
            let found = adapters();
            let i = chosen(&found, env_var("PIPEWRIGHT_GPU").as_deref(), env_var("CUDA_VISIBLE_DEVICES").as_deref());
            found.into_iter().nth(i)
        })
        .as_ref()
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// NVIDIA's PCI vendor id.
const NVIDIA: u32 = 0x10de;

/// Which of `adapters` (in preference order) a process opens, so that the tasks a scheduler spreads over a
/// node's GPUs each use their own:
/// - `PIPEWRIGHT_GPU=K` (`pipewright_gpu`): the K-th hardware adapter;
/// - else a task the scheduler gave GPUs (`CUDA_VISIBLE_DEVICES`, set by Slurm's `--gres`, Ray's `num_gpus`
///   and Kubernetes' device plugin): where Vulkan still sees every NVIDIA GPU of the node (no device
///   isolation), the NVIDIA adapter at the first index it names (Vulkan lists a node's NVIDIA GPUs in bus
///   order, as `CUDA_DEVICE_ORDER=PCI_BUS_ID` numbers them); where it sees only the task's own, that one;
/// - else the preferred adapter (the first).
pub fn chosen(adapters: &[AdapterInfo], pipewright_gpu: Option<&str>, cuda_visible: Option<&str>) -> usize {
    let hardware: Vec<usize> = (0..adapters.len()).filter(|&i| !adapters[i].software).collect();
    if let Some(k) = pipewright_gpu.and_then(|v| v.trim().parse::<usize>().ok()) {
        return hardware.get(k).copied().unwrap_or(0);
    }
    let first = cuda_visible.and_then(|v| v.split(',').next()).and_then(|v| v.trim().parse::<usize>().ok());
    let nvidia: Vec<usize> = hardware.iter().copied().filter(|&i| adapters[i].vendor == NVIDIA).collect();
    match first {
        Some(k) if nvidia.len() > k => nvidia[k],
        Some(_) if !nvidia.is_empty() => nvidia[0],
        _ => 0,
    }
}

/// The process-wide GPU: its device, queue, pipelines and uploaded feature blocks.
pub struct Gpu {
    /// The adapter in use.
    pub info: AdapterInfo,
    device: wgpu::Device,
    queue: wgpu::Queue,
    modules: Mutex<HashMap<&'static str, Arc<wgpu::ShaderModule>>>,
    pipelines: Mutex<HashMap<(&'static str, &'static str), Arc<wgpu::ComputePipeline>>>,
    matrices: Mutex<MatrixCache>,
    /// Largest feature block, bytes (the adapter's binding limit, at most 1 GiB; lowered by tests).
    block_bytes: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("info", &self.info).finish_non_exhaustive()
    }
}

static SHARED: OnceLock<Result<Arc<Gpu>, String>> = OnceLock::new();

/// The GPU every block of this process shares, opened on first use (the preferred adapter; software ones
/// only when nothing else exists).
pub fn shared() -> Result<Arc<Gpu>, ComputeError> {
    SHARED.get_or_init(|| Gpu::open().map(Arc::new)).clone().map_err(ComputeError::NoAdapter)
}

impl Gpu {
    fn open() -> Result<Self, String> {
        let instance = instance();
        let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
        adapters.sort_by_key(|a| AdapterInfo::of(a).rank());
        let infos: Vec<AdapterInfo> = adapters.iter().map(AdapterInfo::of).collect();
        let index = chosen(&infos, env_var("PIPEWRIGHT_GPU").as_deref(), env_var("CUDA_VISIBLE_DEVICES").as_deref());
        let adapter = adapters.into_iter().nth(index).ok_or_else(|| {
            "no Vulkan, Metal or DX12 adapter was found (on Linux without a GPU, install Mesa's lavapipe: \
             apt-get install mesa-vulkan-drivers libvulkan1)"
                .to_string()
        })?;
        let info = AdapterInfo::of(&adapter);
        // Ask for the adapter's own limits: the defaults cap storage bindings at 128 MiB.
        let required_limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("pipewright compute"),
            required_limits,
            ..wgpu::DeviceDescriptor::default()
        }))
        .map_err(|e| format!("{}: could not open the device: {e}", info.label()))?;
        Ok(Self {
            info,
            device,
            queue,
            modules: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
            matrices: Mutex::new(MatrixCache::default()),
            block_bytes: std::sync::atomic::AtomicU64::new(1 << 30),
        })
    }

    /// The compute pipeline of `entry` in shader `name` (its source `source`), compiled once.
    pub(crate) fn pipeline(
        &self,
        name: &'static str,
        source: &'static str,
        entry: &'static str,
    ) -> Result<Arc<wgpu::ComputePipeline>, ComputeError> {
        let mut pipelines = self.pipelines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = pipelines.get(&(name, entry)) {
            return Ok(p.clone());
        }
        let module = {
            let mut modules = self.modules.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(m) = modules.get(name) {
                m.clone()
            } else {
                let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
                let m = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
                if let Some(e) = pollster::block_on(scope.pop()) {
                    return Err(ComputeError::Kernel(format!("shader {name}: {e}")));
                }
                let m = Arc::new(m);
                modules.insert(name, m.clone());
                m
            }
        };
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(ComputeError::Kernel(format!("shader {name}, entry {entry}: {e}")));
        }
        let pipeline = Arc::new(pipeline);
        pipelines.insert((name, entry), pipeline.clone());
        Ok(pipeline)
    }

    /// A read-only storage buffer holding `values`.
    pub(crate) fn storage<T: bytemuck::Pod>(&self, label: &str, values: &[T]) -> wgpu::Buffer {
        // Bindings may not be empty: an empty input becomes one zero word.
        let bytes: &[u8] = bytemuck::cast_slice(values);
        let zero = [0u8; 4];
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: if bytes.is_empty() { &zero } else { bytes },
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        })
    }

    /// A uniform buffer of 32-bit words (each kernel's `Params`; 8 or 16 words keep it 16-byte sized).
    pub(crate) fn params<const N: usize>(&self, words: [u32; N]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::cast_slice(&words),
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    /// A zeroed read-write storage buffer of `len` 32-bit words.
    pub(crate) fn output(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (len.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Records one dispatch of `entry` over `groups` workgroups (spread over x and y when more than one
    /// dimension allows), binding `buffers` at 0, 1, 2… in order.
    pub(crate) fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        groups: (u32, u32),
    ) {
        let layout = pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(groups.0.max(1), groups.1.max(1), 1);
    }

    /// A new command encoder.
    pub(crate) fn encoder(&self) -> wgpu::CommandEncoder {
        self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default())
    }

    /// Submits `encoder` without waiting.
    pub(crate) fn submit(&self, encoder: wgpu::CommandEncoder) {
        self.queue.submit([encoder.finish()]);
    }

    /// Submits `encoder`, then copies `sources` back (each `len` 32-bit words) and waits for them.
    pub(crate) fn read<T: bytemuck::Pod>(
        &self,
        mut encoder: wgpu::CommandEncoder,
        sources: &[(&wgpu::Buffer, usize)],
    ) -> Result<Vec<Vec<T>>, ComputeError> {
        let staging: Vec<(wgpu::Buffer, u64)> = sources
            .iter()
            .map(|(source, len)| {
                let bytes = (len.max(&1) * 4) as u64;
                let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("read back"),
                    size: bytes,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                encoder.copy_buffer_to_buffer(source, 0, &buffer, 0, bytes);
                (buffer, bytes)
            })
            .collect();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(ComputeError::Kernel(e.to_string()));
        }
        for (buffer, _) in &staging {
            buffer.map_async(wgpu::MapMode::Read, .., |_| {});
        }
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| ComputeError::Kernel(e.to_string()))?;
        staging
            .iter()
            .zip(sources)
            .map(|((buffer, _), (_, len))| {
                let view = buffer.get_mapped_range(..).map_err(|e| ComputeError::Kernel(e.to_string()))?;
                let values: Vec<T> = bytemuck::cast_slice::<u8, T>(&view)[..*len].to_vec();
                drop(view);
                buffer.unmap();
                Ok(values)
            })
            .collect()
    }

    /// Workgroup counts for `groups` groups: as (x, y) so that neither exceeds the per-dimension limit.
    pub(crate) fn spread(&self, groups: usize) -> (u32, u32) {
        let limit = self.info.max_workgroups_per_dimension.max(1) as usize;
        if groups <= limit { (groups as u32, 1) } else { (limit as u32, groups.div_ceil(limit) as u32) }
    }

    /// The feature block `m` on the device: uploaded as f32 the first time these exact values are seen,
    /// then reused (Train Model and Score Model, or every iteration of a fit, upload it once).
    pub fn matrix(&self, m: MatrixRef<'_>) -> Arc<GpuMatrix> {
        let key = m.fingerprint();
        let mut cache = self.matrices.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = cache.get(&key) {
            return found;
        }
        let matrix = Arc::new(self.upload_matrix(m));
        cache.insert(key, matrix.clone());
        matrix
    }

    /// Caps feature blocks at `bytes` from now on, so that tests on small data cover tables split into
    /// several blocks (as tables of many millions of rows are on any adapter).
    #[doc(hidden)]
    pub fn limit_block_bytes(&self, bytes: u64) {
        self.block_bytes.store(bytes.max(4), std::sync::atomic::Ordering::Relaxed);
    }

    /// Uploads `m` without caching it (a mini-batch, used once).
    pub(crate) fn upload_matrix(&self, m: MatrixRef<'_>) -> GpuMatrix {
        let row_bytes = (m.cols.max(1) * 4) as u64;
        // Blocks a binding can hold, and never so many rows that per-block partial counts grow huge.
        let limit = self
            .info
            .max_storage_binding_bytes
            .min(self.info.max_buffer_bytes)
            .min(self.block_bytes.load(std::sync::atomic::Ordering::Relaxed));
        let block_rows = ((limit / row_bytes) as usize).max(1);
        let mut blocks = Vec::new();
        let mut row0 = 0;
        let mut staging: Vec<f32> = Vec::new();
        while row0 < m.rows || (m.rows == 0 && blocks.is_empty()) {
            let rows = block_rows.min(m.rows - row0);
            staging.clear();
            staging.extend(m.data[row0 * m.cols..(row0 + rows) * m.cols].iter().map(|&v| v as f32));
            let buffer = self.storage("feature block", &staging);
            blocks.push(MatrixBlock { buffer, row0, rows });
            row0 += rows;
            if m.rows == 0 {
                break;
            }
        }
        GpuMatrix { rows: m.rows, cols: m.cols, blocks }
    }
}

/// One row range of an uploaded matrix.
pub struct MatrixBlock {
    /// The values, row after row, f32.
    pub buffer: wgpu::Buffer,
    /// First row.
    pub row0: usize,
    /// Rows held.
    pub rows: usize,
}

/// A feature block on the device, split by rows into bindable blocks.
pub struct GpuMatrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row ranges, in order.
    pub blocks: Vec<MatrixBlock>,
}

impl GpuMatrix {
    fn bytes(&self) -> u64 {
        (self.rows * self.cols * 4) as u64
    }
}

/// Uploaded matrices by content, least recently used dropped first beyond a byte budget.
#[derive(Default)]
struct MatrixCache {
    entries: Vec<([u8; 32], Arc<GpuMatrix>)>,
}

impl MatrixCache {
    const BUDGET_BYTES: u64 = 4 << 30;

    fn get(&mut self, key: &[u8; 32]) -> Option<Arc<GpuMatrix>> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(at);
        let found = entry.1.clone();
        self.entries.push(entry);
        Some(found)
    }

    fn insert(&mut self, key: [u8; 32], matrix: Arc<GpuMatrix>) {
        self.entries.push((key, matrix));
        while self.entries.len() > 1 && self.entries.iter().map(|(_, m)| m.bytes()).sum::<u64>() > Self::BUDGET_BYTES {
            self.entries.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, vendor: u32, software: bool) -> AdapterInfo {
        AdapterInfo {
            name: name.into(),
            backend: "vulkan".into(),
            device_type: if software { "cpu" } else { "discrete" }.into(),
            driver: String::new(),
            software,
            max_buffer_bytes: 0,
            max_storage_binding_bytes: 0,
            max_workgroups_per_dimension: 0,
            max_invocations_per_workgroup: 0,
            vendor,
        }
    }

    #[test]
    fn each_task_opens_the_gpu_its_scheduler_gave_it() {
        let node = [
            adapter("NVIDIA H100 0", NVIDIA, false),
            adapter("NVIDIA H100 1", NVIDIA, false),
            adapter("NVIDIA H100 2", NVIDIA, false),
            adapter("llvmpipe", 0x10005, true),
        ];
        let none = None;
        let some = Some;
        assert_eq!(chosen(&node, none, none), 0, "no scheduler: the preferred adapter");
        assert_eq!(chosen(&node, none, some("2")), 2, "Slurm gave this task the third GPU");
        assert_eq!(chosen(&node, none, some("1,2")), 1, "two GPUs: the first of them");
        assert_eq!(chosen(&node, some("2"), some("0")), 2, "PIPEWRIGHT_GPU wins");
        assert_eq!(chosen(&node, some("9"), none), 0, "an index past the GPUs: the preferred one");
        // Device isolation: Vulkan sees only the task's GPU, which CUDA numbers 0 in the task but the
        // scheduler called 5 on the node.
        let isolated = [adapter("NVIDIA H100", NVIDIA, false), adapter("llvmpipe", 0x10005, true)];
        assert_eq!(chosen(&isolated, none, some("5")), 0);
        // No NVIDIA GPU: the variable says nothing about the others.
        let amd = [adapter("AMD MI300", 0x1002, false), adapter("AMD MI300", 0x1002, false)];
        assert_eq!(chosen(&amd, none, some("1")), 0);
    }
}
