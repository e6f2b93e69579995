//! Stand-ins for the two `kernel` crate macros the module's pgtable.rs uses, reached as
//! `kernel::impl_flags!` / `kernel::static_assert!` through `extern crate self as kernel`.
//! They implement the subset pgtable.rs needs, with the kernel crate's names and meaning.

/// `kernel::static_assert!`.
#[macro_export]
macro_rules! static_assert {
    ($cond:expr $(,)?) => {
        const _: () = ::core::assert!($cond);
    };
}

/// `kernel::impl_flags!` (rust/kernel/impl_flags.rs): a flags newtype and its bit enum,
/// with the conversions and operators pgtable.rs uses.
#[macro_export]
macro_rules! impl_flags {
    (
        $(#[$outer_flags:meta])*
        $vis_flags:vis struct $flags:ident($ty:ty);
        $(#[$outer_flag:meta])*
        $vis_flag:vis enum $flag:ident {
            $( $(#[$inner_flag:meta])* $name:ident = $value:expr ),+ $( , )?
        }
    ) => {
        $(#[$outer_flags])*
        #[repr(transparent)]
        $vis_flags struct $flags($ty);
        $(#[$outer_flag])*
        #[repr($ty)]
        $vis_flag enum $flag { $( $(#[$inner_flag])* $name = $value ),+ }
        impl ::core::convert::From<$flag> for $flags {
            fn from(value: $flag) -> Self { Self(value as $ty) }
        }
        impl ::core::convert::From<$flags> for $ty {
            fn from(value: $flags) -> Self { value.0 }
        }
        impl ::core::ops::BitOr<$flag> for $flags {
            type Output = Self;
            fn bitor(self, rhs: $flag) -> Self { Self(self.0 | rhs as $ty) }
        }
        impl ::core::ops::BitOrAssign<$flag> for $flags {
            fn bitor_assign(&mut self, rhs: $flag) { self.0 |= rhs as $ty; }
        }
        impl ::core::ops::BitOr for $flag {
            type Output = $flags;
            fn bitor(self, rhs: Self) -> $flags { $flags(self as $ty | rhs as $ty) }
        }
        impl $flags {
            #[allow(dead_code)]
            pub const fn empty() -> Self { Self(0) }
            #[allow(dead_code)]
            pub fn contains(self, flag: $flag) -> bool { self.0 & flag as $ty == flag as $ty }
        }
    };
}
