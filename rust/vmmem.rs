// SPDX-License-Identifier: GPL-2.0

//! A VM's guest memory as one lockable value: the memslots, the NPT that maps them, and
//! (while devices are assigned) the I/O space kept in step with them. Below `vm.rs`,
//! `vmshared.rs`, `vcpu/` and `gmem.rs`, which all take it under `VmShared::mem`.

use crate::{iommu::IoSpace, memslot::Memslots, npt::Npt};

/// Guest memory: slots and the NPT that maps them, under one lock (the "MMU lock").
pub(crate) struct VmMem {
    pub(crate) slots: Memslots,
    pub(crate) npt: Npt,
    /// While devices are assigned: the VM's I/O domain, kept in step with the slots, and
    /// the BARs mapped in the NPT (`iommu::IoSpace`).
    pub(crate) io: Option<IoSpace>,
}
