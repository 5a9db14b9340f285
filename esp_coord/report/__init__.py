"""The coordinator's evaluation report: figures, their rendering, the report command."""
