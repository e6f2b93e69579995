//! rsvm's "cost of virtualization" benchmark (after Drepper, "The Cost of Virtualization",
//! ACM Queue 2008, figure 2): the pointer-chasing list, the statistics, the experiments
//! (exit costs, the chase natively and in a guest) and the report.

pub mod chase;
pub mod exits;
pub mod list;
pub mod report;
pub mod stats;

/// "rsvm" or "kvm", from a device path, for result rows.
pub fn device_name(dev: &str) -> &'static str {
    if dev.ends_with("kvm") { "kvm" } else { "rsvm" }
}
