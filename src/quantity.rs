//! Value objects for Kubernetes quantities: CPU, bytes and Flux durations.
//!
//! Builders take these instead of raw strings, so `Cpu::millis(500)` cannot be confused with
//! memory, and the YAML form (`500m`, `2Gi`, `1h`) is written in one place.

use std::fmt;

/// A Kubernetes quantity as an exact fraction `numerator / denominator`, parsed with the grammar
/// of apimachinery's `resource.ParseQuantity` (k8s.io/apimachinery `pkg/api/resource/quantity.go`):
/// `<sign>? (<digits> | <digits>.<digits>? | .<digits>) <suffix>`, the suffix being binary
/// (`Ki`…`Ei`), decimal (`m`, empty, `k`, `M`, `G`, `T`, `P`, `E`) or an exponent (`e`/`E`
/// followed by a signed integer). Negative values are refused here: every quantity the
/// platform takes is a size or an amount of CPU.
///
/// (`kube_quantity` 0.9 was evaluated and not used: its `to_bytes_u64` truncates `1.5Gi` to
/// `1Gi`, and it refuses the `E`/`Ei` suffixes.)
pub fn parse_quantity(s: &str) -> Result<(u128, u128), String> {
    let bad =
        || format!("`{s}` is not a Kubernetes quantity (e.g. `1.5Gi`, `500M`, `2e9`, `250m`)");
    let body = s.strip_prefix('+').unwrap_or(s);
    if body.starts_with('-') {
        return Err(format!(
            "`{s}` is negative: a quantity here must be positive"
        ));
    }
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(end);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') || int.len() + frac.len() > 30 {
        return Err(bad());
    }
    let digits: u128 = format!("{int}{frac}").parse().map_err(|_| bad())?;
    let pow = |b: u128, e: u32| {
        b.checked_pow(e)
            .ok_or_else(|| format!("`{s}` is too large"))
    };
    let mut den = pow(10, frac.len() as u32)?;
    let mut num = digits;
    let binary = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let decimal = ["k", "M", "G", "T", "P", "E"];
    if let Some(i) = binary.iter().position(|b| *b == suffix) {
        num = num
            .checked_mul(pow(1024, i as u32 + 1)?)
            .ok_or_else(|| format!("`{s}` is too large"))?;
    } else if let Some(i) = decimal.iter().position(|d| *d == suffix) {
        num = num
            .checked_mul(pow(1000, i as u32 + 1)?)
            .ok_or_else(|| format!("`{s}` is too large"))?;
    } else if suffix == "m" {
        den = den.checked_mul(1000).ok_or_else(bad)?;
    } else if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
        let e: i32 = exp
            .strip_prefix('+')
            .unwrap_or(exp)
            .parse()
            .map_err(|_| bad())?;
        if e.unsigned_abs() > 30 {
            return Err(format!("`{s}` is out of range"));
        }
        let m = pow(10, e.unsigned_abs())?;
        if e >= 0 {
            num = num
                .checked_mul(m)
                .ok_or_else(|| format!("`{s}` is too large"))?;
        } else {
            den = den.checked_mul(m).ok_or_else(bad)?;
        }
    } else if !suffix.is_empty() {
        return Err(format!(
            "`{s}` has an unknown suffix `{suffix}`: expected Ki, Mi, Gi, Ti, Pi, Ei, m, k, M, G, T, P, E or an exponent, e.g. `50Gi`, `1.5Gi`, `500M`, `2e9`"
        ));
    }
    Ok((num, den))
}

/// CPU in millicores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpu(u32);

impl Cpu {
    /// `n` thousandths of a core (`Cpu::millis(250)` is a quarter core).
    pub const fn millis(n: u32) -> Self {
        Self(n)
    }
    /// Whole cores.
    pub const fn cores(n: u32) -> Self {
        Self(n * 1000)
    }
    /// Millicores.
    pub const fn as_millis(self) -> u32 {
        self.0
    }

    /// Parses a Kubernetes CPU quantity (the whole grammar: `2`, `0.5`, `500m`, `1e-1`), which
    /// must be a positive whole number of millicores.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (num, den) = parse_quantity(s)?;
        let milli = num
            .checked_mul(1000)
            .ok_or_else(|| format!("`{s}` is too large"))?;
        if !milli.is_multiple_of(den) {
            return Err(format!("`{s}` is finer than a millicore"));
        }
        let millis = milli / den;
        if millis == 0 {
            return Err(format!("`{s}` is zero: a CPU quantity must be positive"));
        }
        u32::try_from(millis)
            .map(Self)
            .map_err(|_| format!("`{s}` is too large"))
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

/// An amount of bytes (memory or storage), written with the largest exact binary suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(u64);

const BINARY: [(&str, u64); 6] = [
    ("Ei", 1 << 60),
    ("Pi", 1 << 50),
    ("Ti", 1 << 40),
    ("Gi", 1 << 30),
    ("Mi", 1 << 20),
    ("Ki", 1 << 10),
];

impl Bytes {
    /// Plain bytes.
    pub const fn new(n: u64) -> Self {
        Self(n)
    }
    /// `n` mebibytes.
    pub const fn mebi(n: u64) -> Self {
        Self(n << 20)
    }
    /// `n` gibibytes.
    pub const fn gibi(n: u64) -> Self {
        Self(n << 30)
    }
    /// The amount in bytes.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Parses a Kubernetes byte quantity (the whole grammar: `50Gi`, `1.5Gi`, `500M`, `2e9`),
    /// which must come to a whole number of bytes.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (num, den) = parse_quantity(s)?;
        if !num.is_multiple_of(den) {
            return Err(format!("`{s}` is not a whole number of bytes"));
        }
        u64::try_from(num / den)
            .map(Self)
            .map_err(|_| format!("`{s}` is too large"))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return write!(f, "0");
        }
        for (suffix, unit) in BINARY {
            if self.0.is_multiple_of(unit) {
                return write!(f, "{}{}", self.0 / unit, suffix);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// A duration in the Go syntax Flux expects (`1h`, `2m`, `30s`, `1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Duration {
    /// Seconds.
    pub const fn seconds(n: u64) -> Self {
        Self(n)
    }
    /// Minutes.
    pub const fn minutes(n: u64) -> Self {
        Self(n * 60)
    }
    /// Hours.
    pub const fn hours(n: u64) -> Self {
        Self(n * 3600)
    }
    /// Length in seconds.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// Parses `1h`, `2m`, `30s` or combinations such as `1h30m` (whole units, h/m/s only).
    pub fn parse(s: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "`{s}` is not a duration: expected whole hours, minutes and seconds such as `1h`, `2m`, `90s` or `1h30m`"
            )
        };
        if s.is_empty() {
            return Err(err());
        }
        let mut total: u64 = 0;
        let mut number = String::new();
        let mut last_rank = 3;
        for c in s.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (rank, unit) = match c {
                'h' => (0, 3600),
                'm' => (1, 60),
                's' => (2, 1),
                _ => return Err(err()),
            };
            if number.is_empty() || (last_rank != 3 && rank <= last_rank) {
                return Err(err());
            }
            let n: u64 = number.parse().map_err(|_| err())?;
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(err)?;
            number.clear();
            last_rank = rank;
        }
        if !number.is_empty() || total == 0 {
            return Err(err());
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 % 3600 / 60, self.0 % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 || self.0 == 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_written_in_cores_or_millicores() {
        assert_eq!(Cpu::millis(250).to_string(), "250m");
        assert_eq!(Cpu::cores(2).to_string(), "2");
    }

    #[test]
    fn cpu_parses_cores_and_millicores() {
        assert_eq!(Cpu::parse("500m").unwrap(), Cpu::millis(500));
        assert_eq!(Cpu::parse("2").unwrap(), Cpu::cores(2));
        assert_eq!(Cpu::parse("0.25").unwrap(), Cpu::millis(250));
        assert_eq!(Cpu::parse("1e-1").unwrap(), Cpu::millis(100));
        assert_eq!(Cpu::parse("1.").unwrap(), Cpu::cores(1));
        assert_eq!(Cpu::parse(".5").unwrap(), Cpu::millis(500));
        for bad in ["", "m", "0", "1.2345", "-1", "0.1m", "2 cores", "1Zi", "."] {
            assert!(Cpu::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bytes_round_trip_through_kubernetes_suffixes() {
        assert_eq!(Bytes::parse("50Gi").unwrap(), Bytes::gibi(50));
        assert_eq!(Bytes::gibi(50).to_string(), "50Gi");
        assert_eq!(Bytes::parse("1536Mi").unwrap().to_string(), "1536Mi");
        assert_eq!(Bytes::parse("1G").unwrap().get(), 1_000_000_000);
        assert_eq!(Bytes::parse("1024").unwrap().to_string(), "1Ki");
        // The rest of the Kubernetes grammar.
        assert_eq!(Bytes::parse("1.5Gi").unwrap(), Bytes::mebi(1536));
        assert_eq!(Bytes::parse("500M").unwrap().get(), 500_000_000);
        assert_eq!(Bytes::parse("2e9").unwrap().get(), 2_000_000_000);
        assert_eq!(Bytes::parse("1E").unwrap().get(), 1_000_000_000_000_000_000);
        assert_eq!(Bytes::parse("2000m").unwrap().get(), 2);
        for bad in [
            "",
            "Gi",
            "50GB",
            "-1Gi",
            "0.5",
            "50 Gi",
            "99999999999999999999",
            "16Ei",
            "1e-3",
        ] {
            assert!(Bytes::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn durations_follow_go_syntax() {
        assert_eq!(Duration::parse("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(Duration::minutes(90).to_string(), "1h30m");
        assert_eq!(Duration::hours(1).to_string(), "1h");
        for bad in ["", "1", "m", "1d", "1m1h", "0s", "1.5h"] {
            assert!(Duration::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
