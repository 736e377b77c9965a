//! Kubernetes resource quantities as OpenFaaS users write them in `limits`: memory such as
//! `128Mi`, `1G`, `500M`, `1.5Gi`, `134217728`; CPU such as `500m`, `1`, `0.5`.

/// Bytes below which a memory limit is refused: `128m` means 0.128 bytes to Kubernetes, and
/// nobody wants a limit that small.
const MIN_MEMORY: u64 = 1 << 20;

/// A memory quantity in bytes (rounded up, as Kubernetes does).
pub(crate) fn parse_memory(text: &str) -> Result<u64, String> {
    let (mantissa, suffix) = split_number(text)?;
    let bytes = match suffix {
        "" => scale(mantissa, 1, 1),
        "Ki" => scale(mantissa, 1 << 10, 1),
        "Mi" => scale(mantissa, 1 << 20, 1),
        "Gi" => scale(mantissa, 1 << 30, 1),
        "Ti" => scale(mantissa, 1 << 40, 1),
        "Pi" => scale(mantissa, 1 << 50, 1),
        "Ei" => scale(mantissa, 1 << 60, 1),
        "k" => scale(mantissa, 1_000, 1),
        "M" => scale(mantissa, 1_000_000, 1),
        "G" => scale(mantissa, 1_000_000_000, 1),
        "T" => scale(mantissa, 1_000_000_000_000, 1),
        "P" => scale(mantissa, 1_000_000_000_000_000, 1),
        "E" => scale(mantissa, 1_000_000_000_000_000_000, 1),
        "m" => scale(mantissa, 1, 1000),
        other => match exponent(other) {
            Some(power) => scale(mantissa, 10u128.pow(power), 1),
            None => {
                return Err(format!(
                    "memory {text:?} has an unknown unit {other:?}: use Ki, Mi, Gi, Ti, k, M, G, T (e.g. 128Mi)"
                ))
            }
        },
    }
    .ok_or_else(|| format!("memory {text:?} is too large"))?;
    if bytes < u128::from(MIN_MEMORY) {
        return Err(format!(
            "memory {text:?} is {bytes} bytes, below the 1Mi minimum (did you mean {}Mi?)",
            text.trim_end_matches(|c: char| c.is_ascii_alphabetic())
        ));
    }
    u64::try_from(bytes).map_err(|_| format!("memory {text:?} is too large"))
}

/// A CPU quantity in millicores (rounded up, at least 1).
pub(crate) fn parse_cpu(text: &str) -> Result<u64, String> {
    let (mantissa, suffix) = split_number(text)?;
    let millis = match suffix {
        "" => scale(mantissa, 1000, 1),
        "m" => scale(mantissa, 1, 1),
        other => {
            return Err(format!(
            "cpu {text:?} has an unknown unit {other:?}: use cores (1, 0.5) or millicores (500m)"
        ))
        }
    }
    .ok_or_else(|| format!("cpu {text:?} is too large"))?;
    if millis == 0 {
        return Err(format!("cpu {text:?} must be more than 0"));
    }
    u64::try_from(millis).map_err(|_| format!("cpu {text:?} is too large"))
}

/// A decimal number as digits and a count of fractional digits.
struct Mantissa {
    digits: u128,
    fraction_digits: u32,
}

fn split_number(text: &str) -> Result<(Mantissa, &str), String> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(format!(
            "{text:?} is not a quantity: write a number with an optional unit, e.g. 128Mi or 500m"
        ));
    }
    let fraction_digits = u32::try_from(fraction.len()).map_err(|_| "too many digits")?;
    if whole.len() + fraction.len() > 30 {
        return Err(format!("{text:?} has too many digits"));
    }
    let digits = format!("{whole}{fraction}")
        .parse::<u128>()
        .map_err(|_| format!("{text:?} is not a quantity"))?;
    Ok((
        Mantissa {
            digits,
            fraction_digits,
        },
        suffix,
    ))
}

/// `mantissa * multiplier / divisor`, rounded up; `None` on overflow.
fn scale(mantissa: Mantissa, multiplier: u128, divisor: u128) -> Option<u128> {
    let numerator = mantissa.digits.checked_mul(multiplier)?;
    let denominator = 10u128
        .checked_pow(mantissa.fraction_digits)?
        .checked_mul(divisor)?;
    Some(numerator.div_ceil(denominator))
}

/// `e6` / `E6` (a decimal exponent), as Kubernetes accepts.
fn exponent(suffix: &str) -> Option<u32> {
    let digits = suffix.strip_prefix(['e', 'E'])?;
    let power: u32 = digits.parse().ok()?;
    (power <= 18).then_some(power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("128Mi").unwrap(), 128 << 20);
        assert_eq!(parse_memory("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_memory("500M").unwrap(), 500_000_000);
        assert_eq!(parse_memory("1.5Gi").unwrap(), 3 << 29);
        assert_eq!(parse_memory("134217728").unwrap(), 134_217_728);
        assert_eq!(parse_memory("2048Ki").unwrap(), 2 << 20);
        assert_eq!(parse_memory("129e6").unwrap(), 129_000_000);
        assert_eq!(parse_memory(" 64Mi ").unwrap(), 64 << 20);
    }

    #[test]
    fn memory_errors() {
        assert!(parse_memory("128m").unwrap_err().contains("128Mi"));
        assert!(parse_memory("12").is_err());
        assert!(parse_memory("").is_err());
        assert!(parse_memory("Mi").is_err());
        assert!(parse_memory("1.2.3Mi").is_err());
        assert!(parse_memory("10MB").unwrap_err().contains("unknown unit"));
        assert!(parse_memory("-5Mi").is_err());
        assert!(parse_memory("99999999999999999999Ei").is_err());
    }

    #[test]
    fn cpu_units() {
        assert_eq!(parse_cpu("500m").unwrap(), 500);
        assert_eq!(parse_cpu("1").unwrap(), 1000);
        assert_eq!(parse_cpu("0.5").unwrap(), 500);
        assert_eq!(parse_cpu("1.25").unwrap(), 1250);
        assert_eq!(parse_cpu("0.0001").unwrap(), 1);
        assert!(parse_cpu("0").is_err());
        assert!(parse_cpu("1k").is_err());
        assert!(parse_cpu("half").is_err());
    }
}
