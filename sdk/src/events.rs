//! Individual records: event trackers, PutEvents, PutItems and PutUsers (being written).
