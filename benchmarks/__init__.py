"""carehub's benchmark suite: a load generator, the peers, the scenarios.
See benchmarks/README.md."""
