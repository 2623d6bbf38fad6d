"""Reports from a run's files: terminal tables, figures, report.md/html, TensorBoard."""
