// SPDX-License-Identifier: GPL-2.0

//! AMD-V (SVM) hardware interface: the VMCB and its clean bits, event injection, exit
//! codes, the decisions that depend on optional SVM features, and instruction wrappers.
//! Every file but `vmcb.rs` and `ops.rs` is free of kernel imports and host-tested.

pub(crate) mod assist;
pub(crate) mod clean;
pub(crate) mod event;
pub(crate) mod exit;
pub(crate) mod ops;
pub(crate) mod vmcb;
