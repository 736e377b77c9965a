//! OpenFaaS wire types (placeholder, being written).
