"""Scheduling: Google Calendar sync per user calendar (issue #14), pure logic and contracts."""
