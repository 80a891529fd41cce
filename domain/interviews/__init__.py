"""The interviews context (issue #15): candidates, interviews with their rubric, recordings.

Contracts shared by the API and (later) the interview workflow and its activities; pure logic
only (no I/O): language tags, rubric weights, which probed audio is accepted.
"""
