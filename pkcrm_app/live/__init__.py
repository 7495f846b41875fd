"""Per-organisation shared state and the bridge from domain events to open tabs."""
