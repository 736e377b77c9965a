//! Floats written as Go's `encoding/json` writes them: whole numbers without `.0`
//! (`1337`, not `1337.0`), so a status list matches the gateway's byte for byte.

use serde::Serializer;

/// Below this, every whole `f64` converts to `i64` exactly.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
        // Exact: whole and within i64's exactly representable range.
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct Number(#[serde(serialize_with = "super::serialize")] f64);

    #[test]
    fn whole_numbers_have_no_fraction() {
        let text = |v| serde_json::to_string(&Number(v)).unwrap();
        assert_eq!(text(1337.0), "1337");
        assert_eq!(text(-2.0), "-2");
        assert_eq!(text(0.25), "0.25");
        assert_eq!(text(0.0), "0");
    }
}
