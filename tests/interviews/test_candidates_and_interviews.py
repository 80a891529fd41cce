"""Candidates and interviews over real HTTP: tenant-scoped (404 across tenants), contact data and
interviewers sealed at rest, creation idempotent by key, bad input a 422 that names the field,
and deleting a candidate deletes their interviews, recordings and the recordings' audio."""

import copy

import httpx
import psycopg
import pytest

from core.settings import Settings
from tests.interviews.conftest import FIXTURES, RUBRIC, candidate, interview, stored_blobs
from tests.platform.api_world import member


async def test_candidates_are_tenant_scoped_and_their_contact_data_sealed(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings
) -> None:
    alice = await member(live, admin_headers, "alice")
    pat = await candidate(live, alice, "Pat Doe")
    assert (pat["name"], pat["email"], pat["phone"]) == ("Pat Doe", "pat@example.com", "+1 (555) 010-2030")
    url = f"/api/interviews/candidates/{pat['id']}"
    assert (await live.get(url, headers=alice)).json() == pat
    changed = await live.put(url, json={"name": "Pat Q. Doe", "email": "pq@example.com"}, headers=alice)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["phone"]) == ("Pat Q. Doe", None)
    assert changed.json()["updated_at"] > pat["updated_at"]

    bob = await member(live, admin_headers, "bob")
    for method in ("GET", "DELETE"):
        assert (await live.request(method, url, headers=bob)).status_code == 404
    assert (await live.put(url, json={"name": "X", "email": "x@example.com"}, headers=bob)).status_code == 404
    assert (await live.get("/api/interviews/candidates", headers=bob)).json()["items"] == []
    assert [
        c["id"] for c in (await live.get("/api/interviews/candidates", headers=alice)).json()["items"]
    ] == [pat["id"]]
    await interview(live, alice, pat["id"])  # its interviewer is Sam Lee, sam@example.com
    with psycopg.connect(interview_settings.database_url) as conn:  # type: ignore[arg-type]
        [candidate_row] = conn.execute("SELECT sealed FROM interview_candidates").fetchall()
        [interview_row] = conn.execute("SELECT sealed::bytea, rubric::text::bytea FROM interviews").fetchall()
    stored = candidate_row[0] + b"".join(interview_row)
    assert b"Collaboration" in stored  # the rubric is plain, and read here
    for text in (b"Pat", b"pq@example.com", b"555", b"Sam", b"sam@example.com"):
        assert text not in stored


async def test_creation_is_idempotent_by_key(live: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    alice = await member(live, admin_headers, "alice")
    body = {"name": "Pat", "email": "pat@example.com"}
    keyed = {**alice, "Idempotency-Key": "candidate-1"}
    first = await live.post("/api/interviews/candidates", json=body, headers=keyed)
    again = await live.post("/api/interviews/candidates", json=body, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await live.post("/api/interviews/candidates", json={**body, "name": "Sam"}, headers=keyed)
    assert other.status_code == 422 and other.json()["title"] == "Idempotency-Key reused"
    # The same key in another tenant is another candidate.
    bob = {**await member(live, admin_headers, "bob"), "Idempotency-Key": "candidate-1"}
    assert (await live.post("/api/interviews/candidates", json=body, headers=bob)).json()[
        "id"
    ] != first.json()["id"]
    made = await interview(live, alice, first.json()["id"])
    keyed_interview = {**alice, "Idempotency-Key": "interview-1"}
    body = {k: made[k] for k in ("candidate_id", "position", "language", "rubric")}
    created = await live.post("/api/interviews", json=body, headers=keyed_interview)
    replay = await live.post("/api/interviews", json=body, headers=keyed_interview)
    assert (created.status_code, replay.status_code) == (201, 200) and created.json() == replay.json()


async def test_an_interview_is_created_with_its_rubric_normalised(
    live: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    alice = await member(live, admin_headers, "alice")
    pat = await candidate(live, alice)
    rubric = copy.deepcopy(RUBRIC)
    rubric["competencies"][0]["weight"], rubric["competencies"][1]["weight"] = 0.333, 0.667 - 0.005
    rubric["competencies"][1]["levels"].reverse()
    body = {"candidate_id": pat["id"], "position": "SRE", "language": "pt-br", "rubric": rubric}
    created = await live.post("/api/interviews", json=body, headers=alice)
    assert created.status_code == 201, created.text
    made = created.json()
    assert (made["language"], made["time_zone"], made["status"], made["interviewers"]) == (
        "pt-BR",
        "UTC",
        "created",
        [],
    )
    weights = [c["weight"] for c in made["rubric"]["competencies"]]
    assert sum(weights) == pytest.approx(1, abs=1e-12) and weights[0] == pytest.approx(0.333 / 0.995)
    assert [lv["score"] for lv in made["rubric"]["competencies"][1]["levels"]] == [1, 5]
    assert (await live.get(f"/api/interviews/{made['id']}", headers=alice)).json() == made
    listed = await live.get("/api/interviews", params={"candidate_id": pat["id"]}, headers=alice)
    assert [i["id"] for i in listed.json()["items"]] == [made["id"]]
    bob = await member(live, admin_headers, "bob")
    assert (await live.get(f"/api/interviews/{made['id']}", headers=bob)).status_code == 404
    assert (await live.get("/api/interviews", headers=bob)).json()["items"] == []
    # Bob cannot hang an interview on Alice's candidate.
    assert (await live.post("/api/interviews", json=body, headers=bob)).status_code == 404


def _with(path: list, value: object) -> dict:
    rubric = copy.deepcopy(RUBRIC)
    node: dict = rubric
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return rubric


BAD_INTERVIEWS = {
    "no competencies": ({"rubric": {"competencies": []}}, "rubric.competencies"),
    "weights summing to 1.5": ({"rubric": _with(["competencies", 0, "weight"], 0.9)}, "rubric.competencies"),
    "weights as percentages": (
        {"rubric": _with(["competencies", 0, "weight"], 40)},
        "rubric.competencies.0.weight",
    ),
    "a zero weight": ({"rubric": _with(["competencies", 0, "weight"], 0)}, "rubric.competencies.0.weight"),
    "a negative weight": (
        {"rubric": _with(["competencies", 0, "weight"], -0.4)},
        "rubric.competencies.0.weight",
    ),
    "one level only": (
        {"rubric": _with(["competencies", 0, "levels"], [{"score": 1, "description": "x"}])},
        "rubric.competencies.0.levels",
    ),
    "a level twice": (
        {"rubric": _with(["competencies", 1, "levels", 1, "score"], 1)},
        "rubric.competencies.1.levels",
    ),
    "a competency twice": (
        {"rubric": _with(["competencies", 1, "name"], "communication")},
        "rubric.competencies",
    ),
    "a language that is no tag": ({"language": "English"}, "language"),
    "an unknown time zone": ({"time_zone": "Mars/Olympus"}, "time_zone"),
    "a time without offset": ({"scheduled_at": "2026-12-01T10:00:00"}, "scheduled_at"),
}


@pytest.mark.parametrize("case", BAD_INTERVIEWS)
async def test_bad_interviews_are_refused_naming_the_field(
    live: httpx.AsyncClient, admin_headers: dict[str, str], case: str
) -> None:
    alice = await member(live, admin_headers, "alice")
    pat = await candidate(live, alice)
    change, field = BAD_INTERVIEWS[case]
    body = {"candidate_id": pat["id"], "position": "SRE", "language": "en-US", "rubric": RUBRIC, **change}
    refused = await live.post("/api/interviews", json=body, headers=alice)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == field
    assert (await live.get("/api/interviews", headers=alice)).json()["items"] == []


async def test_bad_candidates_are_refused(live: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    alice = await member(live, admin_headers, "alice")
    for body, field in (
        ({"name": "Pat", "email": "nope"}, "email"),
        ({"name": " ", "email": "pat@example.com"}, "name"),
        ({"name": "Pat", "email": "pat@example.com", "phone": "call me"}, "phone"),
        ({"name": "Pat", "email": "pat@example.com", "ssn": "1"}, "ssn"),
    ):
        refused = await live.post("/api/interviews/candidates", json=body, headers=alice)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field, refused.text


async def test_deleting_a_candidate_deletes_their_interviews_recordings_and_audio(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings
) -> None:
    alice = await member(live, admin_headers, "alice")
    pat, sam = await candidate(live, alice, "Pat"), await candidate(live, alice, "Sam")
    pats = [await interview(live, alice, pat["id"]) for _ in range(2)]
    sams = await interview(live, alice, sam["id"])
    for made, name in ((pats[0], "speech.wav"), (pats[1], "speech.mp3"), (sams, "speech.flac")):
        url = f"/api/interviews/{made['id']}/recordings"
        assert (
            await live.post(url, content=(FIXTURES / name).read_bytes(), headers=alice)
        ).status_code == 201
    assert len(stored_blobs(interview_settings.blob_path)) == 3
    deleted = await live.delete(f"/api/interviews/candidates/{pat['id']}", headers=alice)
    assert deleted.status_code == 204
    assert (await live.get(f"/api/interviews/candidates/{pat['id']}", headers=alice)).status_code == 404
    for made in pats:
        assert (await live.get(f"/api/interviews/{made['id']}", headers=alice)).status_code == 404
    # Sam's interview and recording stay, with their audio.
    kept = (await live.get(f"/api/interviews/{sams['id']}/recordings", headers=alice)).json()["items"]
    [blob] = stored_blobs(interview_settings.blob_path)
    assert len(kept) == 1 and blob.name == kept[0]["id"]
    with psycopg.connect(interview_settings.database_url) as conn:  # type: ignore[arg-type]
        assert conn.execute("SELECT count(*) FROM interview_recordings").fetchone() == (1,)
