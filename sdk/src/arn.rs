//! ARNs in Personalize's format, with a fixed local partition, region and account so AWS SDKs
//! accept them: `arn:aws:personalize:local:000000000000:dataset-group/NAME`.

use crate::schema::DatasetType;

/// The prefix of every ARN Attune issues.
pub const PREFIX: &str = "arn:aws:personalize:local:000000000000:";

/// The ARN of a dataset group.
pub fn dataset_group(name: &str) -> String {
    format!("{PREFIX}dataset-group/{name}")
}

/// The ARN of a schema.
pub fn schema(name: &str) -> String {
    format!("{PREFIX}schema/{name}")
}

/// The ARN of a dataset: the group name and the upper-case type.
pub fn dataset(group: &str, dataset_type: DatasetType) -> String {
    format!("{PREFIX}dataset/{group}/{}", dataset_type.arn_suffix())
}

/// The ARN of a dataset import job.
pub fn dataset_import_job(name: &str) -> String {
    format!("{PREFIX}dataset-import-job/{name}")
}

/// The ARN of an event tracker.
pub fn event_tracker(name: &str) -> String {
    format!("{PREFIX}event-tracker/{name}")
}

/// The resource part of an Attune ARN (`dataset-group/NAME` -> `("dataset-group", "NAME")`),
/// or `None` when `arn` is not one of ours.
pub fn parse(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    // partition:service:region:account:resource
    let mut parts = rest.splitn(5, ':');
    let _partition = parts.next()?;
    if parts.next()? != "personalize" {
        return None;
    }
    let _region = parts.next()?;
    let _account = parts.next()?;
    parts.next()?.split_once('/')
}

/// Accepts either a bare name or an ARN of the given resource kind, and returns the name part.
pub fn name_of<'a>(kind: &str, name_or_arn: &'a str) -> Option<&'a str> {
    if name_or_arn.starts_with("arn:") {
        match parse(name_or_arn) {
            Some((k, name)) if k == kind => Some(name),
            _ => None,
        }
    } else {
        Some(name_or_arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(
            parse(&dataset(
                "MovieRatingDatasetGroup",
                DatasetType::Interactions
            )),
            Some(("dataset", "MovieRatingDatasetGroup/INTERACTIONS"))
        );
        assert_eq!(name_of("dataset-group", &dataset_group("g1")), Some("g1"));
        assert_eq!(name_of("schema", &dataset_group("g1")), None);
        assert_eq!(name_of("schema", "plain"), Some("plain"));
    }
}
