"""Demo organisation for a newcomer's first run."""
