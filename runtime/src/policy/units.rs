//! The units berth.toml writes durations, sizes and counts in.

use std::time::Duration;

/// Parses `500ms`, `30s`, `2m` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: ms, s, m or h"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s or 500ms"))?;
    let millis = match unit.trim() {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m or h)"
            ));
        }
    };
    // A week is far beyond any sane deadline and keeps `Instant` arithmetic safe.
    const LONGEST: u64 = 7 * 24 * 3_600_000;
    match millis {
        Some(ms) if ms <= LONGEST => Ok(Duration::from_millis(ms)),
        _ => Err(format!("`{text}` is too long (at most a week)")),
    }
}

/// Parses `256MiB`, `1GiB`, `512KiB` or a plain byte count.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 256MiB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}
/// A count setting: its default when absent, and at least one.
pub fn count_setting(value: Option<u32>, default: u32) -> Result<u32, &'static str> {
    match value {
        Some(0) => Err("must be at least 1"),
        Some(value) => Ok(value),
        None => Ok(default),
    }
}
