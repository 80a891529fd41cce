"""Platform: jobs (commands) scheduled onto registered executor workers; pure rules only."""
