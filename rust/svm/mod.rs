// SPDX-License-Identifier: GPL-2.0

//! AMD-V (SVM) hardware interface: the VMCB, exit codes, and instruction wrappers.

pub(crate) mod exit;
pub(crate) mod ops;
pub(crate) mod vmcb;
