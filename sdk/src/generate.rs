//! The deterministic synthetic data generator (being written).
