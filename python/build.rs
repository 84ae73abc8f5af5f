//! The extension module finds LibTorch's libraries through the `torch` package beside it:
//! `saex/_saex*.so` in site-packages looks in `site-packages/torch/lib`. `saex/__init__.py`
//! imports torch first anyway, which loads the same libraries (the dynamic loader then finds
//! them by name), so this rpath matters only to whoever imports `saex._saex` on its own.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if std::env::var_os("DEP_TCH_LIBTORCH_LIB").is_none() {
        // torch-sys was built without a LibTorch (doc-only): nothing to link.
        return;
    }
    println!("cargo:rustc-link-arg-cdylib=-Wl,-rpath,$ORIGIN/../torch/lib");
}
