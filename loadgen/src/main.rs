//! loadgen: load generator and sink for ringhook (issue 4).
fn main() {}
