//! Adds rpaths so the saex binary, tests and benches run without LD_LIBRARY_PATH, and so that
//! `saex::device` finds `libtorch_cuda.so` when it loads it:
//!
//! 1. `$ORIGIN/../lib/saex/torch/lib`: an installed copy (`scripts/install.sh PREFIX` puts the
//!    binary in `PREFIX/bin` and LibTorch's libraries in `PREFIX/lib/saex/torch/lib`), which
//!    runs wherever PREFIX is moved and needs no build cache; first, so that an installed copy
//!    always uses its own libraries;
//! 2. LibTorch's library folder in the build cache, for the binaries of the checkout.

use std::path::PathBuf;

/// Where an installed binary finds LibTorch, relative to itself (scripts/install.sh agrees).
const INSTALLED_LIBTORCH: &str = "$ORIGIN/../lib/saex/torch/lib";

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        // torch-sys was built without a LibTorch (doc-only): nothing to link.
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{INSTALLED_LIBTORCH}");
    // The checkout reaches LibTorch through the `.libtorch` link; the rpath names the cache
    // folder itself so a binary keeps working wherever the checkout goes.
    let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| PathBuf::from(&lib));
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // libtorch_cuda is not linked: saex::device loads it by dlopen when a driver is present
    // (the rpaths above are where dlopen finds it).
}
