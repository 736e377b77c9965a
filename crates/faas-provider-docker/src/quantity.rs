//! `limits`/`requests` quantities as OpenFaaS users write them (Kubernetes' notation):
//! memory such as `128Mi`, `1G`, `134217728`; CPU such as `500m`, `0.5`, `1`.

/// Memory below this is refused: `128m` is 0.128 bytes to Kubernetes, and the engine refuses
/// limits under 6 MB anyway.
const MIN_MEMORY: u64 = 6 << 20;

/// A memory quantity in bytes.
pub(crate) fn memory_bytes(text: &str) -> Result<u64, String> {
    let (number, unit) = split(text)?;
    let factor: f64 = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        other => {
            return Err(format!(
                "memory {text:?} has an unknown unit {other:?}: use Ki, Mi, Gi, Ti, k, M, G or T (e.g. 128Mi)"
            ))
        }
    };
    let bytes = (number * factor).ceil();
    if !bytes.is_finite() || bytes > 1e18 {
        return Err(format!("memory {text:?} is too large"));
    }
    let bytes = bytes as u64;
    if bytes < MIN_MEMORY {
        return Err(format!(
            "memory {text:?} is {bytes} bytes, below the engine's 6Mi minimum"
        ));
    }
    Ok(bytes)
}

/// A CPU quantity in nano-CPUs (the engine's `NanoCpus`).
pub(crate) fn nano_cpus(text: &str) -> Result<i64, String> {
    let (number, unit) = split(text)?;
    let cores = match unit {
        "" => number,
        "m" => number / 1000.0,
        other => {
            return Err(format!(
            "cpu {text:?} has an unknown unit {other:?}: use cores (1, 0.5) or millicores (500m)"
        ))
        }
    };
    let nanos = (cores * 1e9).ceil();
    if nanos.is_nan() || nanos < 1e6 {
        return Err(format!("cpu {text:?} is below the engine's 0.001 minimum"));
    }
    if nanos > 1e15 {
        return Err(format!("cpu {text:?} is too large"));
    }
    Ok(nanos as i64)
}

fn split(text: &str) -> Result<(f64, &str), String> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let value: f64 = number.parse().map_err(|_| {
        format!(
            "{text:?} is not a quantity: write a number with an optional unit, e.g. 128Mi or 500m"
        )
    })?;
    Ok((value, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(memory_bytes("128Mi").unwrap(), 128 << 20);
        assert_eq!(memory_bytes("1G").unwrap(), 1_000_000_000);
        assert_eq!(memory_bytes("1.5Gi").unwrap(), 3 << 29);
        assert_eq!(memory_bytes("134217728").unwrap(), 128 << 20);
        assert!(memory_bytes("128m").unwrap_err().contains("unknown unit"));
        assert!(memory_bytes("1Ki").unwrap_err().contains("minimum"));
        assert!(memory_bytes("lots").unwrap_err().contains("not a quantity"));
    }

    #[test]
    fn cpu_units() {
        assert_eq!(nano_cpus("500m").unwrap(), 500_000_000);
        assert_eq!(nano_cpus("0.5").unwrap(), 500_000_000);
        assert_eq!(nano_cpus("2").unwrap(), 2_000_000_000);
        assert!(nano_cpus("0").is_err());
        assert!(nano_cpus("1x").is_err());
    }
}
