//! Guests for tests and benchmarks: payloads assembled into the binary, and a small harness
//! that runs them through `kvm-ioctls` on any KVM-compatible device.

pub mod guest;
pub mod payloads;
