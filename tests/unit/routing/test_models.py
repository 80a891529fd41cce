from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.routing import Address, Homeowner, ServiceJobCreate, TimeWindow, Trade


def error_locs(excinfo: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str | int, ...]]:
    return [error["loc"] for error in excinfo.value.errors()]


def address(**overrides: object) -> dict[str, object]:
    return {"street": "1 Market St", "city": "San Francisco", "state": "CA", "zip": "94107"} | overrides


def job(**overrides: object) -> dict[str, object]:
    return {
        "summary": "Kitchen sink leaks",
        "trade": "plumbing",
        "address": address(),
        "homeowner": {"name": "Ada Home", "phone": "(415) 555-0134"},
    } | overrides


class TestTrade:
    def test_known_trade_parses(self) -> None:
        assert ServiceJobCreate.model_validate(job(trade="garage_door")).trade is Trade.GARAGE_DOOR

    def test_unknown_trade_is_rejected(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            ServiceJobCreate.model_validate(job(trade="astrology"))
        assert error_locs(excinfo) == [("trade",)]


class TestAddress:
    @pytest.mark.parametrize("zip_code", ["94107", "94107-1234", "00501"])
    def test_accepts_zip_and_zip_plus_4(self, zip_code: str) -> None:
        assert Address.model_validate(address(zip=zip_code)).zip5 == zip_code[:5]

    @pytest.mark.parametrize(
        "zip_code", ["9410", "941077", "94107-12", "941071234", "ABCDE", "94107 1234", ""]
    )
    def test_rejects_malformed_zip(self, zip_code: str) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Address.model_validate(address(zip=zip_code))
        assert error_locs(excinfo) == [("zip",)]

    def test_state_is_upper_cased(self) -> None:
        assert Address.model_validate(address(state=" ny ")).state == "NY"

    @pytest.mark.parametrize("state", ["XX", "California", "C", ""])
    def test_rejects_unknown_state(self, state: str) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Address.model_validate(address(state=state))
        assert error_locs(excinfo) == [("state",)]

    @pytest.mark.parametrize(("given", "missing"), [({"lat": 37.7}, "lon"), ({"lon": -122.4}, "lat")])
    def test_coordinates_come_in_pairs(self, given: dict[str, float], missing: str) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Address.model_validate(address(**given))
        assert error_locs(excinfo) == [(missing,)]

    @pytest.mark.parametrize(("field", "value"), [("lat", 91), ("lon", -181), ("lat", float("nan"))])
    def test_coordinates_in_range(self, field: str, value: float) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Address.model_validate(address(lat=0, lon=0) | {field: value})
        assert error_locs(excinfo) == [(field,)]

    def test_street_length_is_limited(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Address.model_validate(address(street="x" * 201))
        assert error_locs(excinfo) == [("street",)]

    def test_unknown_fields_are_rejected(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Address.model_validate(address(country="US"))
        assert error_locs(excinfo) == [("country",)]


class TestHomeowner:
    @pytest.mark.parametrize(
        "raw",
        [
            "(415) 555-0134",
            "415-555-0134",
            "415.555.0134",
            "4155550134",
            "1 415 555 0134",
            "+1 (415) 555-0134",
        ],
    )
    def test_phone_is_normalised_to_e164(self, raw: str) -> None:
        assert Homeowner(name="Ada", phone=raw).phone == "+14155550134"

    @pytest.mark.parametrize(
        "raw",
        [
            "555-0134",  # too short
            "415555013499",  # too long
            "+44 20 7946 0958",  # not US
            "(015) 555-0134",  # area code cannot start with 0
            "(415) 155-0134",  # exchange cannot start with 1
            "415-555-CALL",
            "415 555 0134 ext 2",
        ],
    )
    def test_invalid_phone_is_rejected(self, raw: str) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Homeowner(name="Ada", phone=raw)
        assert error_locs(excinfo) == [("phone",)]

    @given(
        digits=st.from_regex(r"[2-9]\d\d[2-9]\d{6}", fullmatch=True),
        prefix=st.sampled_from(["", "1", "+1", "+1 "]),
        style=st.sampled_from(["{a}{e}{n}", "({a}) {e}-{n}", "{a}.{e}.{n}", "{a} {e} {n}"]),
    )
    def test_any_notation_of_a_us_number_normalises_to_the_same_e164(
        self, digits: str, prefix: str, style: str
    ) -> None:
        raw = prefix + style.format(a=digits[:3], e=digits[3:6], n=digits[6:])
        normalised = Homeowner(name="Ada", phone=raw).phone
        assert normalised == "+1" + digits
        assert Homeowner(name="Ada", phone=normalised).phone == normalised

    @pytest.mark.parametrize("email", ["ada@example.com", "a.b+tag@mail.example.co.uk"])
    def test_valid_email(self, email: str) -> None:
        assert Homeowner(name="Ada", email=email).email == email

    @pytest.mark.parametrize(
        "email", ["ada", "ada@", "@example.com", "ada@example", "a da@example.com", "a@b@c.d"]
    )
    def test_invalid_email(self, email: str) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Homeowner(name="Ada", email=email)
        assert error_locs(excinfo) == [("email",)]

    @pytest.mark.parametrize("contact", [{}, {"phone": "", "email": "  "}, {"phone": None, "email": None}])
    def test_missing_contact(self, contact: dict[str, str | None]) -> None:
        with pytest.raises(ValidationError, match="missing homeowner contact") as excinfo:
            Homeowner.model_validate({"name": "Ada"} | contact)
        assert error_locs(excinfo) == [("phone",)]

    def test_missing_contact_is_located_under_the_job(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            ServiceJobCreate.model_validate(job(homeowner={"name": "Ada"}))
        assert error_locs(excinfo) == [("homeowner", "phone")]


class TestTimeWindow:
    START = datetime(2025, 3, 5, 17, tzinfo=UTC)

    def test_valid_window(self) -> None:
        window = TimeWindow(start=self.START, end=self.START + timedelta(hours=2))
        assert window.end - window.start == timedelta(hours=2)

    @pytest.mark.parametrize("length", [timedelta(0), timedelta(hours=-1)])
    def test_end_must_follow_start(self, length: timedelta) -> None:
        with pytest.raises(ValidationError) as excinfo:
            TimeWindow(start=self.START, end=self.START + length)
        assert error_locs(excinfo) == [("end",)]

    def test_naive_datetimes_are_rejected(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            TimeWindow(start=datetime(2025, 3, 5, 9), end=self.START + timedelta(days=1))
        assert error_locs(excinfo) == [("start",)]


class TestServiceJobCreate:
    def test_full_job_round_trips_through_json(self) -> None:
        created = ServiceJobCreate.model_validate(
            job(
                technician_id="7a1c6f4e-5d5b-4c1e-9d8e-2b1f3a4c5d6e",
                preferred_window={"start": "2025-03-05T09:00:00-08:00", "end": "2025-03-05T12:00:00-08:00"},
                notes="Side gate code 1234",
                address=address(lat=37.77, lon=-122.39),
            )
        )
        assert created.technician_id == UUID("7a1c6f4e-5d5b-4c1e-9d8e-2b1f3a4c5d6e")
        assert ServiceJobCreate.model_validate_json(created.model_dump_json()) == created

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("summary", ""),
            ("summary", "   "),
            ("summary", "x" * 201),
            ("notes", "x" * 2001),
            ("technician_id", "not-a-uuid"),
        ],
    )
    def test_bad_values_name_their_field(self, field: str, value: str) -> None:
        with pytest.raises(ValidationError) as excinfo:
            ServiceJobCreate.model_validate(job(**{field: value}))
        assert error_locs(excinfo) == [(field,)]

    def test_jobs_are_immutable(self) -> None:
        created = ServiceJobCreate.model_validate(job())
        with pytest.raises(ValidationError):
            created.summary = "changed"  # type: ignore[misc]
