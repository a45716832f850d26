//! Compute for Pipewright's blocks: wgpu adapter discovery and the device policy (auto, cpu, gpu),
//! WGSL kernels under `compute/shaders/` with a multi-threaded CPU twin for each, behind one interface.
//! The blocks of this build compute on the CPU; the kernels arrive with the GPU work.
