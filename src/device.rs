//! Choosing where the network runs: `auto`, `cpu`, `cuda` or `cuda:N`.

use crate::error::{Error, Result};
use std::ffi::CStr;
use std::sync::OnceLock;
use tch::Device;

/// The accepted device names, for messages.
const DEVICE_CHOICES: &str = "auto, cpu, cuda or cuda:N (gpu is cuda)";

/// Parses a device name. `auto` is the first CUDA device when LibTorch sees one, else the CPU;
/// `cuda` (or `gpu`) is `cuda:0`. The name is checked first: an unknown one (`mps`, `tpu`) is
/// refused naming the valid choices. Asking for a CUDA device that is not there is an error,
/// not a fallback, and says which devices there are. Any name but `cpu` first loads LibTorch's
/// CUDA backend (`load_cuda_backend`).
pub fn parse_device(name: &str) -> Result<Device> {
    let name = name.trim().to_ascii_lowercase();
    let requested = match name.as_str() {
        "auto" => None,
        "cpu" => Some(Device::Cpu),
        "cuda" | "gpu" => Some(Device::Cuda(0)),
        other => match other.strip_prefix("cuda:") {
            Some(index) => Some(Device::Cuda(index.parse().map_err(|_| {
                Error::Invalid(format!(
                    "device {name:?}: expected cuda:N with N a number (valid: {DEVICE_CHOICES})"
                ))
            })?)),
            None => {
                let note = match other {
                    "mps" | "metal" => " (Apple's Metal is not supported by this build)",
                    "rocm" | "hip" => " (AMD GPUs are not supported by this build)",
                    _ => "",
                };
                return Err(Error::Invalid(format!(
                    "unknown device {name:?}{note}: expected {DEVICE_CHOICES}"
                )));
            }
        },
    };
    let Some(device) = requested else {
        let _ = load_cuda_backend();
        return Ok(Device::cuda_if_available());
    };
    if let Device::Cuda(index) = device {
        if let Err(reason) = load_cuda_backend() {
            return Err(Error::Invalid(format!(
                "device {name:?}: {reason}; this machine can run on cpu (or auto, which picks it)"
            )));
        }
        let available = tch::Cuda::device_count();
        if index as i64 >= available {
            return Err(Error::Invalid(format!(
                "device {name:?}: LibTorch sees {available} CUDA device(s){}",
                if available == 0 {
                    "; use cpu (or auto, which picks it)".to_string()
                } else {
                    format!(": cuda:0 to cuda:{}", available - 1)
                }
            )));
        }
    }
    Ok(device)
}

/// Loads LibTorch's CUDA library (`libtorch_cuda.so`, found through the binary's rpath) once,
/// when an NVIDIA driver is installed; its static initialisers register the CUDA backend.
///
/// saex does not link it: mapping it and the CUDA libraries it needs, and running their
/// initialisers, cost every start about 0.1 s and 350 MB of RSS, GPU or not (`saex --version`:
/// 0.44 s and 471 MB linked, 0.35 s and 117 MB loaded on demand).
fn load_cuda_backend() -> std::result::Result<(), String> {
    static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            // The driver library: without it no CUDA device can exist.
            dlopen(c"libcuda.so.1", libc::RTLD_LAZY | libc::RTLD_LOCAL)
                .map_err(|e| format!("no NVIDIA driver ({e})"))?;
            load_torch_cuda()
        })
        .clone()
}

/// Loads `libtorch_cuda.so` with its symbols global, as if it had been linked.
fn load_torch_cuda() -> std::result::Result<(), String> {
    dlopen(c"libtorch_cuda.so", libc::RTLD_NOW | libc::RTLD_GLOBAL)
        .map_err(|e| format!("this LibTorch has no usable CUDA backend ({e})"))?;
    preload_nvrtc_builtins();
    Ok(())
}

/// NVRTC (the run-time compiler LibTorch uses for some kernels) loads its builtins library by
/// name when it first compiles, through the loader's search path rather than its own folder: on
/// a GPU machine with a CUDA toolkit in /etc/ld.so.conf an installed saex got the toolkit's copy
/// (seen on a lent H100 machine), on one without, none. Loading the copy that came with
/// LibTorch's CUDA libraries first makes the later load by name find it, as PyTorch's own
/// start-up does. Best effort: without it, NVRTC searches as before.
fn preload_nvrtc_builtins() {
    // LibTorch opens libnvrtc itself only when it first needs it; the CUDA runtime it links is
    // loaded by now, and the wheels keep NVRTC beside it (CUDA 13: nvidia/cu13/lib) or in a
    // sibling folder (CUDA 12: nvidia/cuda_runtime/lib and nvidia/cuda_nvrtc/lib).
    let Some(cudart) = loaded_library("libcudart.so") else {
        return;
    };
    let Some(dir) = cudart.parent() else {
        return;
    };
    for dir in [dir.to_path_buf(), dir.join("../../cuda_nvrtc/lib")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("libnvrtc-builtins.so") {
                let path = entry.path();
                if let Ok(path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) {
                    let _ = dlopen(&path, libc::RTLD_LAZY | libc::RTLD_GLOBAL);
                }
            }
        }
    }
}

/// The path of a loaded shared object whose file name starts with `prefix`.
fn loaded_library(prefix: &str) -> Option<std::path::PathBuf> {
    struct Search<'a> {
        prefix: &'a str,
        found: Option<std::path::PathBuf>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid `info` for the call's duration, and `data` is the
        // `Search` that `loaded_library` lent to dl_iterate_phdr.
        let (info, search) = unsafe { (&*info, &mut *(data as *mut Search)) };
        if info.dlpi_name.is_null() {
            return 0;
        }
        // SAFETY: dlpi_name is a NUL-terminated string owned by the loader.
        let name = unsafe { CStr::from_ptr(info.dlpi_name) }.to_string_lossy();
        let path = std::path::Path::new(name.as_ref());
        let matches = path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with(search.prefix));
        if matches {
            search.found = Some(path.to_path_buf());
            return 1;
        }
        0
    }
    let mut search = Search {
        prefix,
        found: None,
    };
    // SAFETY: `visit` only reads each `info` and writes `search`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), &mut search as *mut Search as *mut libc::c_void) };
    search.found
}

/// `dlopen` that keeps the library loaded for the life of the process.
fn dlopen(name: &CStr, flags: libc::c_int) -> std::result::Result<(), String> {
    // SAFETY: `name` is a valid C string; the handle is deliberately never closed.
    let handle = unsafe { libc::dlopen(name.as_ptr(), flags) };
    if handle.is_null() {
        // SAFETY: dlerror returns null or a valid C string owned by libc.
        let err = unsafe { libc::dlerror() };
        return Err(if err.is_null() {
            format!("cannot load {}", name.to_string_lossy())
        } else {
            unsafe { CStr::from_ptr(err) }
                .to_string_lossy()
                .into_owned()
        });
    }
    Ok(())
}

/// A short human name for a device, as printed in logs and model summaries.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_nonsense() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device(" CPU ").unwrap(), Device::Cpu);
        for wrong in ["tpu", "mps", "metal", "cuda:x"] {
            let err = parse_device(wrong).unwrap_err().to_string();
            assert!(err.contains("auto, cpu, cuda"), "{wrong}: {err}");
            assert!(!err.contains("NVIDIA"), "{wrong}: {err}");
        }
    }

    #[test]
    fn the_cuda_library_loads_without_a_gpu() {
        // Shipped LibTorch has the CUDA backend: loading it must work (and change nothing for
        // the CPU) even on a machine with no driver and no GPU.
        if std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".libtorch/lib/libtorch_cuda.so")
            .exists()
        {
            load_torch_cuda().unwrap();
            let x = tch::Tensor::ones([2, 2], (tch::Kind::Float, Device::Cpu));
            assert_eq!(x.sum(tch::Kind::Float).double_value(&[]), 4.0);
        }
        assert!(tch::Cuda::device_count() >= 0);
    }

    #[test]
    fn auto_never_fails() {
        let device = parse_device("auto").unwrap();
        assert_eq!(device.is_cuda(), tch::Cuda::is_available());
    }
}
