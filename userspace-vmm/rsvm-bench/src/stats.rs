//! Summary statistics of repeated measurements: min, median, max (what the report shows).

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    pub n: usize,
}

/// Min, median (mean of the two middle values for an even count) and max; `None` for no
/// samples or a NaN among them.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() || samples.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some(Summary { min: v[0], median, max: v[n - 1], n })
}

/// Slowdown of `guest` relative to `native` in percent (the article's figure 2 y axis).
pub fn slowdown_percent(guest: f64, native: f64) -> f64 {
    (guest / native - 1.0) * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even_counts() {
        assert_eq!(summarize(&[3.0, 1.0, 2.0]), Some(Summary { min: 1.0, median: 2.0, max: 3.0, n: 3 }));
        assert_eq!(summarize(&[4.0, 1.0, 3.0, 2.0]), Some(Summary { min: 1.0, median: 2.5, max: 4.0, n: 4 }));
        assert_eq!(summarize(&[5.0]).map(|s| s.median), Some(5.0));
    }

    #[test]
    fn empty_and_nan() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn slowdown() {
        assert_eq!(slowdown_percent(138.0, 100.0).round(), 38.0);
        assert_eq!(slowdown_percent(100.0, 100.0), 0.0);
    }
}
