//! Adds an rpath to LibTorch's library folder so the saex binary, tests and benches run without
//! LD_LIBRARY_PATH, and keeps libtorch_cuda linked: the linker would drop it under --as-needed,
//! since no symbol of it is referenced directly, and CUDA would then be unavailable at run time.

use std::path::{Path, PathBuf};

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
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
