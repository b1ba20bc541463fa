"""The host the core acts on: one command runner, and symlink-safe atomic files under a root."""
