//! Adds an rpath to LibTorch's library folder so the saex binary, tests and benches run without
//! LD_LIBRARY_PATH, and so that `saex::device` finds `libtorch_cuda.so` there when it loads it.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        // torch-sys was built without a LibTorch (doc-only): nothing to link.
        return;
    };
    // The checkout reaches LibTorch through the `.libtorch` link; the rpath names the cache
    // folder itself so an installed binary keeps working wherever the checkout goes.
    let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| PathBuf::from(&lib));
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // libtorch_cuda is not linked: saex::device loads it by dlopen when a driver is present
    // (the rpath above is where dlopen finds it).
}
