"""Read-only reports over one workspace: the dashboard's figures, import health and alerts."""
