//! The findings of `spec/data.md` 4.7 (#1-#11) and D-5, from finished analyzers.

use super::analyze::Finished;
use super::{Finding, Severity};
use crate::schema::DatasetType;

/// Interactions model training needs (spec 3.4).
pub(super) const MIN_INTERACTIONS: u64 = 1_000;
/// Interactions recommended.
pub(super) const RECOMMENDED_INTERACTIONS: u64 = 50_000;
/// Users with two or more interactions training needs.
pub(super) const MIN_ACTIVE_USERS: u64 = 25;
/// Users with two or more interactions recommended.
pub(super) const RECOMMENDED_ACTIVE_USERS: u64 = 1_000;
/// Columns should be at least this complete (percent).
const MIN_COMPLETE: f64 = 70.0;
/// Textual columns below this completeness (percent) are not used in training.
const MIN_TEXTUAL_COMPLETE: f64 = 85.0;
/// Categorical columns should have at most this many categories.
const MAX_CATEGORIES: u64 = 1_000;
/// More event types than this make training fail.
const MAX_EVENT_TYPES: u64 = 10;

/// `1234567` -> `1,234,567`.
pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A percentage with one decimal; tiny non-zero values show as `<0.1`, near-total ones as
/// `>99.9`, so a finding never reads "0.0%" or "100.0%" when it is not.
pub(super) fn pct(p: f64) -> String {
    if p > 0.0 && p < 0.05 {
        "<0.1".to_owned()
    } else if (99.95..100.0).contains(&p) {
        ">99.9".to_owned()
    } else {
        format!("{p:.1}")
    }
}

fn finding(severity: Severity, dataset: &str, message: String, action: String) -> Finding {
    Finding {
        severity,
        dataset: dataset.to_owned(),
        message,
        action,
    }
}

pub(super) fn findings(datasets: &[Finished]) -> Vec<Finding> {
    let mut out = Vec::new();
    let interactions = datasets
        .iter()
        .find(|d| d.dataset_type == DatasetType::Interactions);
    match interactions {
        Some(d) => interaction_findings(d, &mut out),
        None => out.push(finding(
            Severity::Error,
            "DatasetGroup",
            format!(
                "The dataset group has no Interactions dataset. Model training requires an \
                 Interactions dataset with a minimum of {} interactions",
                count(MIN_INTERACTIONS)
            ),
            "Create an Interactions dataset and import interactions, or record events with an \
             event tracker"
                .to_owned(),
        )),
    }
    for d in datasets {
        let ds = d.insights.dataset_type.as_str();
        if d.insights.records.total == 0 {
            if d.dataset_type != DatasetType::Interactions {
                out.push(finding(
                    Severity::Info,
                    ds,
                    format!("The {ds} dataset has no records"),
                    format!("Import {ds} data, or delete the dataset if you do not need it"),
                ));
            }
            continue;
        }
        if let Some(i) = interactions {
            coverage_findings(d, i, &mut out);
        }
        column_findings(d, &mut out);
    }
    // Errors first; the order within a severity is the order above.
    out.sort_by_key(|f| f.severity);
    out
}

/// #1, #2, #10, #11.
fn interaction_findings(d: &Finished, out: &mut Vec<Finding>) {
    let ds = "Interactions";
    let Some(stats) = &d.insights.interactions else {
        return;
    };
    // #1
    let n = stats.interactions;
    if n < RECOMMENDED_INTERACTIONS {
        let message = format!(
            "The Interactions dataset has only {} interactions. Model training requires a \
             minimum of {} interactions. We recommend at least {}.",
            count(n),
            count(MIN_INTERACTIONS),
            count(RECOMMENDED_INTERACTIONS)
        );
        let (severity, action) = if n < MIN_INTERACTIONS {
            (
                Severity::Error,
                format!(
                    "Import {} additional unique interactions records ({} more to reach the \
                     recommended {})",
                    count(MIN_INTERACTIONS - n),
                    count(RECOMMENDED_INTERACTIONS - n),
                    count(RECOMMENDED_INTERACTIONS)
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "Import {} additional unique interactions records",
                    count(RECOMMENDED_INTERACTIONS - n)
                ),
            )
        };
        out.push(finding(severity, ds, message, action));
    }
    // #2
    let active = stats.users_with_two_or_more_interactions;
    if active < RECOMMENDED_ACTIVE_USERS {
        let message = format!(
            "The Interactions dataset has only {} unique users with two or more interactions. \
             Model training requires at least {} such users. We recommend at least {}.",
            count(active),
            count(MIN_ACTIVE_USERS),
            count(RECOMMENDED_ACTIVE_USERS)
        );
        let (severity, action) = if active < MIN_ACTIVE_USERS {
            (
                Severity::Error,
                format!(
                    "Import interactions so that at least {} more users have two or more \
                     interactions each ({} more to reach the recommended {})",
                    count(MIN_ACTIVE_USERS - active),
                    count(RECOMMENDED_ACTIVE_USERS - active),
                    count(RECOMMENDED_ACTIVE_USERS)
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "Import interactions so that at least {} more users have two or more \
                     interactions each",
                    count(RECOMMENDED_ACTIVE_USERS - active)
                ),
            )
        };
        out.push(finding(severity, ds, message, action));
    }
    // Spec 3.4: at least 1% of the users must have two or more interactions.
    if active >= MIN_ACTIVE_USERS && active * 100 < stats.unique_users {
        out.push(finding(
            Severity::Error,
            ds,
            format!(
                "Only {}% of the users in the Interactions dataset ({} of {}) have two or more \
                 interactions. Model training requires at least 1%.",
                pct(active as f64 * 100.0 / stats.unique_users as f64),
                count(active),
                count(stats.unique_users)
            ),
            "Import more interactions for users who already have one".to_owned(),
        ));
    }
    // #10
    let event_types = d
        .insights
        .columns
        .iter()
        .find(|c| c.name == "EVENT_TYPE")
        .map_or(0, |c| c.distinct.at_least());
    if event_types > MAX_EVENT_TYPES {
        out.push(finding(
            Severity::Error,
            ds,
            format!(
                "The Interactions dataset has more than {MAX_EVENT_TYPES} unique event types \
                 ({}), which will cause model training to fail.",
                d.insights
                    .columns
                    .iter()
                    .find(|c| c.name == "EVENT_TYPE")
                    .map_or_else(String::new, |c| c.distinct.to_string())
            ),
            format!("Merge or remove event types so that at most {MAX_EVENT_TYPES} remain"),
        ));
    }
    // #11
    if let (Some(lo), Some(hi)) = (stats.min_timestamp, stats.max_timestamp) {
        if lo == hi && stats.interactions + stats.anonymous_interactions >= 2 {
            out.push(finding(
                Severity::Warning,
                ds,
                format!(
                    "The Interactions dataset has the same timestamp for all records ({lo}). \
                     Training a solution with a USER_SEGMENTATION recipe will fail, and other \
                     recipes cannot learn from the order of interactions."
                ),
                "Import the time each interaction happened in the TIMESTAMP column".to_owned(),
            ));
        }
    }
}

/// #3 and #4: items or users of the metadata datasets without interactions.
fn coverage_findings(d: &Finished, interactions: &Finished, out: &mut Vec<Finding>) {
    let users = &interactions.interaction_users;
    let items = &interactions.interaction_items;
    let (kind, seen, consequence, action): (_, &dyn Fn(&u64) -> bool, _, _) = match d.dataset_type {
        DatasetType::Items => (
            "items",
            &|h| items.contains(h),
            ", so they might not be recommended.",
            "Import interactions for these items, or check that ITEM_ID values match between \
             the Items and Interactions datasets",
        ),
        DatasetType::Users => (
            "users",
            &|h| users.contains_key(h),
            ". These users will receive recommendations for popular items.",
            "Import interactions for these users, or check that USER_ID values match between \
             the Users and Interactions datasets",
        ),
        _ => return,
    };
    let total = d.ids.len() as u64;
    if total == 0 {
        return;
    }
    let missing = d.ids.iter().filter(|h| !seen(h)).count() as u64;
    if missing == 0 {
        return;
    }
    let p = missing as f64 * 100.0 / total as f64;
    let ds = d.insights.dataset_type.as_str();
    out.push(finding(
        if p > 50.0 {
            Severity::Warning
        } else {
            Severity::Info
        },
        ds,
        format!(
            "{}% of {kind} in the {ds} dataset ({} of {}) have no interactions in the \
             Interactions dataset{consequence}",
            pct(p),
            count(missing),
            count(total)
        ),
        action.to_owned(),
    ));
}

/// #5-#9 and D-5 for any dataset.
fn column_findings(d: &Finished, out: &mut Vec<Finding>) {
    let ins = &d.insights;
    let ds = ins.dataset_type.as_str();
    let total = ins.records.total;
    // #5
    if ins.rows_with_missing_values > 0 {
        out.push(finding(
            Severity::Info,
            ds,
            format!(
                "The {ds} dataset has {}% rows with a missing value ({} of {}). We recommend \
                 that all required and optional fields be at least {MIN_COMPLETE:.0}% percent \
                 complete.",
                pct(ins.rows_with_missing_values as f64 * 100.0 / total as f64),
                count(ins.rows_with_missing_values),
                count(total)
            ),
            "Fill in missing values where you can".to_owned(),
        ));
    }
    // #6
    let incomplete: Vec<String> = ins
        .columns
        .iter()
        .filter(|c| 100.0 - c.missing_percent < MIN_COMPLETE)
        .map(|c| format!("{} ({}% complete)", c.name, pct(100.0 - c.missing_percent)))
        .collect();
    if !incomplete.is_empty() {
        out.push(finding(
            Severity::Warning,
            ds,
            format!(
                "The following column(s) of the {ds} dataset are less than {MIN_COMPLETE:.0}% \
                 complete: {}",
                incomplete.join(", ")
            ),
            "Fill in missing values for these columns, or remove them from the schema".to_owned(),
        ));
    }
    // #7
    let outliers: Vec<String> = ins
        .columns
        .iter()
        .filter_map(|c| {
            c.outlier_percent
                .filter(|p| *p > 0.0)
                .map(|p| format!("{} ({}% of values)", c.name, pct(p)))
        })
        .collect();
    if !outliers.is_empty() {
        out.push(finding(
            Severity::Info,
            ds,
            format!(
                "The following numerical column(s) of the {ds} dataset have outliers (values \
                 more than 1.5 times the interquartile range beyond the quartiles): {}",
                outliers.join(", ")
            ),
            "Check these values for data errors; correct or remove values that are not real"
                .to_owned(),
        ));
    }
    // #8
    let many: Vec<String> = ins
        .columns
        .iter()
        .filter(|c| c.categorical && c.distinct.at_least() > MAX_CATEGORIES)
        .map(|c| format!("{} ({} categories)", c.name, distinct_text(c.distinct)))
        .collect();
    if !many.is_empty() {
        out.push(finding(
            Severity::Warning,
            ds,
            format!(
                "The following column(s) of the {ds} dataset have more than {} possible \
                 categories: {}",
                count(MAX_CATEGORIES),
                many.join(", ")
            ),
            format!(
                "Group rare categories into broader ones; avoid more than {} possible categories \
                 for a column",
                count(MAX_CATEGORIES)
            ),
        ));
    }
    // #9
    if d.dataset_type == DatasetType::Items {
        let sparse_text: Vec<String> = ins
            .columns
            .iter()
            .filter(|c| c.textual && 100.0 - c.missing_percent < MIN_TEXTUAL_COMPLETE)
            .map(|c| format!("{} ({}% complete)", c.name, pct(100.0 - c.missing_percent)))
            .collect();
        if !sparse_text.is_empty() {
            out.push(finding(
                Severity::Warning,
                ds,
                format!(
                    "The following textual metadata column(s) of the Items dataset are less than \
                     {MIN_TEXTUAL_COMPLETE:.0}% percent complete and will not be used in model \
                     training: {}",
                    sparse_text.join(", ")
                ),
                format!(
                    "Fill in the missing text so that the column(s) are at least \
                     {MIN_TEXTUAL_COMPLETE:.0}% complete"
                ),
            ));
        }
    }
    // D-5
    let reserved: Vec<String> = ins
        .columns
        .iter()
        .zip(&d.reserved_examples)
        .filter(|(c, _)| c.reserved_keyword_values > 0)
        .map(|(c, example)| {
            format!(
                "{} ({} value(s), e.g. {})",
                c.name,
                count(c.reserved_keyword_values),
                example.unwrap_or("?")
            )
        })
        .collect();
    if !reserved.is_empty() {
        out.push(finding(
            Severity::Warning,
            ds,
            format!(
                "The following column(s) of the {ds} dataset have values equal to a reserved \
                 keyword, and the keywords can't be in your data: {}",
                reserved.join(", ")
            ),
            "Remove or rename these values (a header row imported as data looks like this)"
                .to_owned(),
        ));
    }
}

fn distinct_text(d: super::DistinctCount) -> String {
    match d {
        super::DistinctCount::Exact(n) => count(n),
        super::DistinctCount::MoreThan(n) => format!("more than {}", count(n)),
    }
}
