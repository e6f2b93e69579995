// SPDX-License-Identifier: GPL-2.0

//! rsvm's own IOMMU drivers (off unless asked for: module parameter `amdvi=1`).

pub(crate) mod amdvi;
