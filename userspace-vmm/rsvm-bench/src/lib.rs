//! Building blocks of rsvm's "cost of virtualization" benchmark (after Drepper, "The Cost of
//! Virtualization", ACM Queue 2008, figure 2): the pointer-chasing list and the statistics.
//! The list is built into any byte buffer at any base address, so the same code lays it out
//! in the VMM's own memory (native runs) and in guest memory (the guest sees it at its own
//! virtual addresses).

pub mod list;
pub mod stats;
