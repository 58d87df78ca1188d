//! The readable multi-line summary of [`GroupInsights`] (for the CLI).

use std::fmt::{self, Display, Formatter};

use super::findings::{count, pct};
use super::{ColumnStats, DatasetInsights, GroupInsights};

/// `YYYY-MM-DD HH:MM:SS` (UTC) for Unix seconds.
pub(super) fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

fn number(c: &ColumnStats, x: f64) -> String {
    if matches!(c.ty.as_str(), "int" | "long") {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_owned()
    }
}

impl Display for GroupInsights {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "Data insights for dataset group {}", self.dataset_group)?;
        for d in &self.datasets {
            writeln!(f)?;
            write_dataset(f, d)?;
        }
        writeln!(f)?;
        if self.findings.is_empty() {
            writeln!(
                f,
                "No findings: the data aligns with the data expectations."
            )?;
        } else {
            writeln!(f, "Findings:")?;
            for finding in &self.findings {
                writeln!(
                    f,
                    "  [{}] {}: {}",
                    finding.severity.as_str(),
                    finding.dataset,
                    finding.message
                )?;
                writeln!(f, "      -> {}", finding.action)?;
            }
        }
        Ok(())
    }
}

fn write_dataset(f: &mut Formatter<'_>, d: &DatasetInsights) -> fmt::Result {
    let r = &d.records;
    write!(
        f,
        "{}: {} records ({} bulk, {} put), {} columns, {} duplicate rows{}",
        d.dataset_type,
        count(r.total),
        count(r.bulk),
        count(r.put),
        d.column_count,
        count(d.duplicate_rows),
        if d.duplicate_rows_estimated {
            " (estimated)"
        } else {
            ""
        }
    )?;
    if let Some(ids) = d.unique_ids {
        write!(f, ", {} unique ids", count(ids))?;
    }
    writeln!(f)?;
    if let Some(i) = &d.interactions {
        writeln!(
            f,
            "  {} interactions by {} users ({} with two or more) on {} items; sparsity {:.2}%",
            count(i.interactions),
            count(i.unique_users),
            count(i.users_with_two_or_more_interactions),
            count(i.unique_items),
            i.sparsity * 100.0
        )?;
        if i.anonymous_interactions > 0 {
            writeln!(
                f,
                "  {} interactions of anonymous sessions (not counted)",
                count(i.anonymous_interactions)
            )?;
        }
        if let (Some(lo), Some(hi)) = (i.min_timestamp, i.max_timestamp) {
            writeln!(f, "  time range {} to {} UTC", utc(lo), utc(hi))?;
        }
        if !i.event_types.is_empty() {
            let mut types: Vec<(&String, &u64)> = i.event_types.iter().collect();
            types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let list: Vec<String> = types
                .iter()
                .map(|(t, n)| format!("{t} {}", count(**n)))
                .collect();
            writeln!(f, "  event types: {}", list.join(", "))?;
        }
    }
    let name_width = d
        .columns
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        f,
        "  {:name_width$}  {:<18} {:>8} {:>10}  range",
        "column", "type", "missing", "distinct"
    )?;
    for c in &d.columns {
        let mut ty = c.ty.clone();
        if c.categorical {
            ty.push_str(" categorical");
        }
        if c.textual {
            ty.push_str(" textual");
        }
        let mut range = String::new();
        if let (Some(lo), Some(hi)) = (c.min, c.max) {
            range = format!("{} .. {}", number(c, lo), number(c, hi));
            if let Some(mean) = c.mean {
                range.push_str(&format!(", mean {}", number(c, mean)));
            }
        }
        if let Some(p) = c.outlier_percent.filter(|p| *p > 0.0) {
            range.push_str(&format!(", outliers {}%", pct(p)));
        }
        writeln!(
            f,
            "  {:name_width$}  {:<18} {:>7}% {:>10}  {}",
            c.name,
            ty,
            pct(c.missing_percent),
            c.distinct.to_string(),
            range
        )?;
    }
    Ok(())
}
