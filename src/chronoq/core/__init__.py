"""Pure domain model: jobs, options, serialization and retry policy. No I/O."""
