"""One module per subcommand; each exposes `register(app)` and keeps its commands thin."""
