//! Data insights: counts, time range, sparsity and data-quality findings (being written).
