//! Value objects for Kubernetes quantities: CPU, bytes and Flux durations.
//!
//! Builders take these instead of raw strings, so `Cpu::millis(500)` cannot be confused with
//! memory, and the YAML form (`500m`, `2Gi`, `1h`) is written in one place.

use std::fmt;

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

    /// Parses a Kubernetes CPU quantity: whole cores (`2`), millicores (`500m`) or a decimal
    /// number of cores with at most three decimals (`0.5`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "`{s}` is not a CPU quantity: expected cores (`2`, `0.5`) or millicores (`500m`)"
            )
        };
        let millis: u64 = if let Some(m) = s.strip_suffix('m') {
            if m.is_empty() || !m.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            m.parse().map_err(|_| err())?
        } else {
            let (int, frac) = s.split_once('.').unwrap_or((s, ""));
            let digits = |x: &str| x.bytes().all(|c| c.is_ascii_digit());
            if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 3 || s.ends_with('.')
            {
                return Err(err());
            }
            let whole: u64 = int.parse().map_err(|_| err())?;
            let frac_m: u64 = format!("{frac:0<3}").parse().map_err(|_| err())?;
            whole
                .checked_mul(1000)
                .and_then(|w| w.checked_add(frac_m))
                .ok_or_else(err)?
        };
        if millis == 0 {
            return Err(format!("`{s}` is zero: a CPU quantity must be positive"));
        }
        u32::try_from(millis).map(Self).map_err(|_| err())
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
const DECIMAL: [(&str, u64); 6] = [
    ("E", 1_000_000_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("T", 1_000_000_000_000),
    ("G", 1_000_000_000),
    ("M", 1_000_000),
    ("k", 1_000),
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

    /// Parses a Kubernetes byte quantity: an unsigned integer with an optional binary
    /// (`Ki`…`Ei`) or decimal (`k`…`E`) suffix, e.g. `50Gi`, `512Mi`, `1G`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, suffix) = s.split_at(digits_end);
        let allowed = "an unsigned integer with an optional suffix Ki, Mi, Gi, Ti, Pi, Ei (binary) or k, M, G, T, P, E (decimal), e.g. `50Gi`";
        if number.is_empty() {
            return Err(format!("`{s}` is not a byte quantity: expected {allowed}"));
        }
        let n: u64 = number.parse().map_err(|_| format!("`{s}` is too large"))?;
        let unit = if suffix.is_empty() {
            1
        } else {
            BINARY
                .iter()
                .chain(DECIMAL.iter())
                .find(|(sfx, _)| *sfx == suffix)
                .map(|(_, m)| *m)
                .ok_or_else(|| {
                    format!("`{s}` has an unknown suffix `{suffix}`: expected {allowed}")
                })?
        };
        n.checked_mul(unit)
            .map(Self)
            .ok_or_else(|| format!("`{s}` is too large"))
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
        for bad in ["", "m", "0", "1.2345", "-1", "1.", "1e3", "2 cores"] {
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
        for bad in [
            "",
            "Gi",
            "50GB",
            "-1Gi",
            "1.5Gi",
            "50 Gi",
            "99999999999999999999",
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
