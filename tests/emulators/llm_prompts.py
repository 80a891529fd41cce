"""A prompt with an interview transcript, as the LLM emulator tests send it, and the sentences a
default answer may quote from it."""

TRANSCRIPT = """Interview transcript:
[00:00:01] Interviewer: Tell me about a hard migration you led.
[00:00:05] Candidate: I moved our billing system to a new database without downtime. It took four months.
[00:00:12] Interviewer: How did you test it?
[00:00:15] Candidate: We replayed a week of production traffic against both systems every night.
"""
SENTENCES = {
    "Tell me about a hard migration you led.",
    "I moved our billing system to a new database without downtime.",
    "It took four months.",
    "How did you test it?",
    "We replayed a week of production traffic against both systems every night.",
}
