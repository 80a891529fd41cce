"""Runtime plumbing shared by the API and the worker: settings, data converter, logging, metrics."""
