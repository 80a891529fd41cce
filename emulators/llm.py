"""What the LLM emulators (OpenAI, Anthropic) answer: a scripted answer whose pattern matches
the prompt, or a default built from the JSON schema asked for (a strict ``response_format``, a
tool's ``input_schema``) whose strings quote sentences of the prompt's transcript verbatim.

Quotable sentences, from the user's messages: the ``"text": "..."`` values of JSON and the lines
that start with a timestamp (``[00:01:02]``, ``00:01``); if there are none, the lines that start
with a speaker label (``Candidate:``, ``Speaker 1 (00:05-00:09):``, which a rubric line such as
``Communication: ...`` also looks like); if none, every line. Timestamps and labels are cut off.
Lines are cut into sentences after ``.``, ``!`` or ``?``; sentences of at least three
words are quoted, in order, one per string the schema asks for (round and round).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from emulators.persistence import RecordFile

FALLBACK_SENTENCE = "The candidate described their recent work in detail."
_STAMP = re.compile(r"^\s*(\[[^\]]{1,20}\]|\(?\d{1,2}:\d{2}(:\d{2})?(\.\d+)?\)?)\s*")
# "Candidate:", "Speaker 2:", "Jane Doe (interviewer):", "Speaker 1 (00:05-00:09):"
_SPEAKER = re.compile(r"^\s*[A-Z][^:\n(]{0,40}(\([^)\n]{0,40}\))?\s*:\s+")
_JSON_TEXT = re.compile(r'"text"\s*:\s*("(?:[^"\\]|\\.)*")')
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def quotable_sentences(text: str) -> list[str]:
    stamped: list[str] = []
    labelled: list[str] = []
    others: list[str] = []
    for match in _JSON_TEXT.finditer(text):
        try:
            stamped.append(json.loads(match.group(1)))
        except ValueError:
            continue
    for line in text.splitlines():
        stamp = _STAMP.match(line)
        rest = line[stamp.end() :] if stamp else line
        speaker = _SPEAKER.match(rest)
        if speaker:
            rest = rest[speaker.end() :]
        (stamped if stamp else labelled if speaker else others).append(rest.strip())
    lines = stamped or labelled or others
    sentences = [s.strip() for line in lines for s in _SENTENCE_END.split(line)]
    return [s for s in sentences if len(s.split()) >= 3]


class SchemaInstance:
    """A value valid for a JSON schema (the subset structured outputs and tool schemas use:
    objects, arrays, scalars, enum/const, anyOf/oneOf/allOf, $ref to $defs/definitions, numeric
    bounds, string length and formats). ``pattern`` is not honoured."""

    FORMATS = {
        "date-time": "2026-01-01T09:00:00Z",
        "date": "2026-01-01",
        "time": "09:00:00",
        "email": "candidate@example.com",
        "uuid": "00000000-0000-4000-8000-000000000000",
        "uri": "https://example.com/",
    }

    def __init__(self, root: dict[str, Any], sentences: list[str]) -> None:
        self.root = root
        self.quotes = itertools.cycle(sentences or [FALLBACK_SENTENCE])

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part] if part else target
            node = target
        return node

    def build(self, node: Any = None) -> Any:
        node = self._resolve(self.root if node is None else node)
        if not isinstance(node, dict):
            return None
        if "const" in node:
            return node["const"]
        if node.get("enum"):
            return node["enum"][0]
        for key in ("anyOf", "oneOf"):
            if node.get(key):
                options = [self._resolve(o) for o in node[key]]
                chosen = next((o for o in options if o.get("type") != "null"), options[0])
                return self.build(chosen)
        if node.get("allOf"):
            merged: dict[str, Any] = {}
            for part in node["allOf"]:
                merged |= self._resolve(part)
            return self.build(merged)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in node else "array" if "items" in node else "string"
        return getattr(self, f"_{kind}", self._string)(node)

    def _object(self, node: dict[str, Any]) -> dict[str, Any]:
        return {key: self.build(value) for key, value in node.get("properties", {}).items()}

    def _array(self, node: dict[str, Any]) -> list[Any]:
        count = max(node.get("minItems", 0), min(2, node.get("maxItems", 2)))
        return [self.build(node.get("items", {})) for _ in range(count)]

    def _string(self, node: dict[str, Any]) -> str:
        if node.get("format") in self.FORMATS:
            return self.FORMATS[node["format"]]
        text = next(self.quotes)
        if "maxLength" in node:
            text = text[: node["maxLength"]]
        return text.ljust(node.get("minLength", 0), ".")

    def _number(self, node: dict[str, Any]) -> float:
        low = node["minimum"] if "minimum" in node else node.get("exclusiveMinimum")
        high = node["maximum"] if "maximum" in node else node.get("exclusiveMaximum")
        if low is not None and high is not None:
            return (low + high) / 2
        if low is not None:
            return low + 1
        if high is not None:
            return high - 1
        return 1.0

    def _integer(self, node: dict[str, Any]) -> int:
        low = node["minimum"] if "minimum" in node else node.get("exclusiveMinimum")
        if "minimum" not in node and low is not None:
            low += 1
        high = node["maximum"] if "maximum" in node else node.get("exclusiveMaximum")
        if "maximum" not in node and high is not None:
            high -= 1
        if low is not None and high is not None:
            return int((low + high) // 2)
        if low is not None:
            return int(low) + 1
        if high is not None:
            return int(high) - 1
        return 1

    def _boolean(self, node: dict[str, Any]) -> bool:
        return True

    def _null(self, node: dict[str, Any]) -> None:
        return None


def estimate_tokens(text: str) -> int:
    """About four characters a token, as OpenAI's and Anthropic's guides put it."""
    return max(1, len(text) // 4)


class ScriptedAnswer(BaseModel):
    """An answer for prompts matching ``pattern`` (``re.search`` over the whole prompt text)."""

    id: str = ""
    pattern: str = ""
    count: int | None = Field(None, ge=1)  # answers left; None: every match
    # OpenAI: the message content (a string as is, anything else as its JSON).
    # Anthropic: a string (a text block), a list of content blocks, or see ``tool_input``.
    content: Any = None
    # Anthropic: the input of a tool_use block for the tool the request forces (or its first).
    tool_input: dict[str, Any] | None = None
    refusal: str | None = None  # OpenAI: a refusal instead of content
    stop: str | None = None  # finish_reason (OpenAI) / stop_reason (Anthropic)
    applied: int = 0

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regex: {exc}") from exc
        return value


class AnswerScripts:
    """Scripted answers, tried in the order they were added; kept in the provider's data dir."""

    def __init__(self, db: RecordFile | None) -> None:
        self.db = db
        self.answers: list[ScriptedAnswer] = []
        if db is not None:
            self.answers = sorted(
                (ScriptedAnswer.model_validate(body) for _, body in db.records("answer")),
                key=lambda a: int(a.id[1:]),
            )
        self._ids = itertools.count(max((int(a.id[1:]) for a in self.answers), default=0) + 1)

    def _save(self, answer: ScriptedAnswer) -> None:
        if self.db is not None:
            self.db.put("answer", answer.id, answer.model_dump(mode="json"))

    def add(self, answer: ScriptedAnswer) -> ScriptedAnswer:
        answer.id = f"a{next(self._ids)}"
        self.answers.append(answer)
        self._save(answer)
        return answer

    def pick(self, prompt: str) -> ScriptedAnswer | None:
        for answer in self.answers:
            if answer.count is not None and answer.count <= 0:
                continue
            if re.search(answer.pattern, prompt, re.DOTALL):
                if answer.count is not None:
                    answer.count -= 1
                answer.applied += 1
                self._save(answer)
                return answer
        return None

    def clear(self) -> None:
        self.answers.clear()
        if self.db is not None:
            for key, _ in list(self.db.records("answer")):
                self.db.delete("answer", key)
