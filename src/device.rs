//! Choosing where the network runs: `auto`, `cpu`, `cuda` or `cuda:N`.

use crate::error::{Error, Result};
use tch::Device;

/// Parses a device name. `auto` is the first CUDA device when LibTorch sees one, else the CPU;
/// `cuda` is `cuda:0`. Asking for a CUDA device that is not there is an error, not a fallback.
pub fn parse_device(name: &str) -> Result<Device> {
    let name = name.trim().to_ascii_lowercase();
    let device = match name.as_str() {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" | "gpu" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:") {
            Some(index) => Device::Cuda(index.parse().map_err(|_| {
                Error::Invalid(format!("device {name:?}: expected cuda:N with N a number"))
            })?),
            None => {
                return Err(Error::Invalid(format!(
                    "device {name:?}: expected auto, cpu, cuda or cuda:N"
                )))
            }
        },
    };
    if let Device::Cuda(index) = device {
        let available = tch::Cuda::device_count();
        if index as i64 >= available {
            return Err(Error::Invalid(format!(
                "device {name:?}: LibTorch sees {available} CUDA device(s)"
            )));
        }
    }
    Ok(device)
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
        assert!(parse_device("tpu").is_err());
        assert!(parse_device("cuda:x").is_err());
    }

    #[test]
    fn auto_never_fails() {
        let device = parse_device("auto").unwrap();
        assert_eq!(device.is_cuda(), tch::Cuda::is_available());
    }
}
