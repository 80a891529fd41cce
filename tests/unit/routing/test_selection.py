from collections import Counter
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.routing import (
    Address,
    BusinessHours,
    Candidate,
    FanOutMode,
    FeeKind,
    FeeTerms,
    Homeowner,
    OpeningInterval,
    Partnership,
    RadiusArea,
    RejectionReason,
    RoutingProfile,
    SequentialMode,
    ServiceJobCreate,
    Trade,
    Weekday,
    ZipCodeArea,
    select_receivers,
)

R = RejectionReason
REFERRER = UUID(int=1)
# Wednesday 10:00 in Los Angeles (PST, UTC-8).
NOW = datetime(2025, 3, 5, 18, 0, tzinfo=UTC)
FAN_OUT_ALL = FanOutMode(fan_out_count=50)
SEQUENTIAL = SequentialMode(accept_timeout=timedelta(minutes=15))

WEEKDAYS_8_TO_17 = BusinessHours(
    timezone="America/Los_Angeles",
    weekly={day: (OpeningInterval(opens=time(8), closes=time(17)),) for day in list(Weekday)[:5]},
)
NEVER_OPEN = BusinessHours(timezone="America/Los_Angeles")
SF_ZIPS = ZipCodeArea(zip_codes=("94107", "94103"))
SF_RADIUS = RadiusArea(center_lat=37.77, center_lon=-122.4, radius_km=50)
ACTIVE = Partnership(active=True, fee_terms=FeeTerms(kind=FeeKind.PERCENT, amount=Decimal(10)))

JOB = ServiceJobCreate(
    summary="Kitchen sink leaks",
    trade=Trade.PLUMBING,
    address=Address(street="1 Market St", city="San Francisco", state="CA", zip="94107-1234"),
    homeowner=Homeowner(name="Ada Home", phone="415 555 0134"),
)


def candidate(
    n: int,
    *,
    partnership: Partnership | None = ACTIVE,
    routings_today: int = 0,
    recent: int | None = None,
    **profile: object,
) -> Candidate:
    fields: dict[str, object] = {
        "trades": (Trade.PLUMBING, Trade.HVAC),
        "service_area": SF_ZIPS,
        "business_hours": WEEKDAYS_8_TO_17,
        "daily_capacity": 10,
    }
    return Candidate(
        company_id=UUID(int=n),
        profile=RoutingProfile.model_validate(fields | profile),
        partnership=partnership,
        routings_today=routings_today,
        recent_routings_count=recent,
    )


def select(candidates: list[Candidate], mode: FanOutMode | SequentialMode = FAN_OUT_ALL, key: str = "job-1"):
    return select_receivers(JOB, REFERRER, candidates, NOW, mode, fairness_key=key)


class TestRules:
    @pytest.mark.parametrize(
        ("rejected", "reason"),
        [
            (candidate(1), R.SAME_COMPANY),
            (candidate(2, partnership=None), R.NO_ACTIVE_PARTNERSHIP),
            (candidate(2, partnership=ACTIVE.model_copy(update={"active": False})), R.NO_ACTIVE_PARTNERSHIP),
            (candidate(2, excluded_partner_ids=(REFERRER,)), R.EXCLUDED_BY_RECEIVER),
            (candidate(2, trades=(Trade.ROOFING,)), R.TRADE_NOT_OFFERED),
            (candidate(2, service_area=ZipCodeArea(zip_codes=("10001",))), R.OUTSIDE_SERVICE_AREA),
            # The job's address has no coordinates, so no radius can cover it.
            (candidate(2, service_area=SF_RADIUS), R.OUTSIDE_SERVICE_AREA),
            (candidate(2, routings_today=10), R.AT_DAILY_CAPACITY),
            (candidate(2, daily_capacity=0), R.AT_DAILY_CAPACITY),
        ],
    )
    def test_each_rule_has_its_reason(self, rejected: Candidate, reason: RejectionReason) -> None:
        ok = candidate(99)
        selection = select([rejected, ok])
        assert selection.chosen == [ok.company_id]
        assert selection.rejected == {rejected.company_id: reason}
        assert selection.no_candidate_reason is None

    def test_first_failing_rule_gives_the_reason(self) -> None:
        everything_wrong = candidate(
            2,
            partnership=None,
            excluded_partner_ids=(REFERRER,),
            trades=(Trade.ROOFING,),
            service_area=ZipCodeArea(zip_codes=("10001",)),
            daily_capacity=0,
        )
        assert select([everything_wrong]).rejected == {everything_wrong.company_id: R.NO_ACTIVE_PARTNERSHIP}
        wrong_fit = candidate(3, trades=(Trade.ROOFING,), service_area=ZipCodeArea(zip_codes=("10001",)))
        assert select([wrong_fit]).rejected == {wrong_fit.company_id: R.TRADE_NOT_OFFERED}

    def test_closed_now_is_deprioritised_not_excluded(self) -> None:
        closed, open_ = candidate(2, business_hours=NEVER_OPEN), candidate(3)
        assert select([closed, open_]).chosen == [open_.company_id, closed.company_id]
        assert select([closed]).chosen == [closed.company_id]


class TestRanking:
    def test_preferred_first_then_open_then_load(self) -> None:
        busy_open = candidate(2, routings_today=9)
        idle_open = candidate(3, routings_today=0)
        idle_closed = candidate(4, business_hours=NEVER_OPEN)
        preferred_by_receiver = candidate(
            5, routings_today=9, business_hours=NEVER_OPEN, preferred_partner_ids=(REFERRER,)
        )
        preferred_by_referrer = candidate(
            6, routings_today=8, partnership=ACTIVE.model_copy(update={"preferred_by_referrer": True})
        )
        selection = select([busy_open, idle_open, idle_closed, preferred_by_receiver, preferred_by_referrer])
        assert selection.chosen == [
            preferred_by_referrer.company_id,  # preferred and open
            preferred_by_receiver.company_id,  # preferred, closed, busy: preference still wins
            idle_open.company_id,
            busy_open.company_id,
            idle_closed.company_id,
        ]

    def test_load_is_relative_to_capacity(self) -> None:
        big = candidate(2, routings_today=5, daily_capacity=100)  # 5 % loaded
        small = candidate(3, routings_today=1, daily_capacity=2)  # 50 % loaded
        assert select([small, big]).chosen == [big.company_id, small.company_id]

    def test_fewer_recent_routings_break_equal_load(self) -> None:
        many, few, unknown = candidate(2, recent=7), candidate(3, recent=2), candidate(4, recent=None)
        assert select([many, few, unknown]).chosen == [unknown.company_id, few.company_id, many.company_id]


class TestModes:
    def test_fan_out_takes_the_best_n_and_accounts_for_the_rest(self) -> None:
        best, second, third = candidate(2), candidate(3, routings_today=3), candidate(4, routings_today=6)
        selection = select([third, best, second], FanOutMode(fan_out_count=2))
        assert selection.chosen == [best.company_id, second.company_id]
        assert selection.rejected == {third.company_id: R.BEYOND_FAN_OUT}

    def test_sequential_offers_to_every_qualifying_one_in_rank_order(self) -> None:
        cands = [candidate(n, routings_today=n) for n in range(2, 9)] + [candidate(9, partnership=None)]
        selection = select(cands, SEQUENTIAL)
        assert selection.chosen == [UUID(int=n) for n in range(2, 9)]
        assert selection.rejected == {UUID(int=9): R.NO_ACTIVE_PARTNERSHIP}

    @pytest.mark.parametrize(("field", "value"), [("fan_out_count", 0), ("fan_out_count", True)])
    def test_fan_out_count_must_be_a_positive_int(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError) as excinfo:
            FanOutMode.model_validate({field: value})
        assert [error["loc"] for error in excinfo.value.errors()] == [(field,)]

    def test_accept_timeout_is_at_least_a_minute(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            SequentialMode(accept_timeout=timedelta(seconds=59))
        assert [error["loc"] for error in excinfo.value.errors()] == [("accept_timeout",)]


class TestNoCandidate:
    def test_no_candidates_at_all(self) -> None:
        selection = select([])
        assert selection.chosen == []
        assert selection.rejected == {}
        assert selection.no_candidate_reason == "no partner candidates for ZIP 94107 for plumbing"

    def test_reason_counts_rejections(self) -> None:
        selection = select(
            [
                candidate(2, service_area=ZipCodeArea(zip_codes=("10001",))),
                candidate(3, service_area=ZipCodeArea(zip_codes=("10002",))),
                candidate(4, trades=(Trade.ROOFING,)),
            ]
        )
        assert selection.chosen == []
        assert selection.no_candidate_reason == (
            "no partner covers ZIP 94107 for plumbing "
            "(3 candidates: 1 trade not offered, 2 outside service area)"
        )

    def test_reason_mentions_capacity_when_that_is_what_is_missing(self) -> None:
        selection = select([candidate(2, routings_today=10), candidate(1)])
        assert selection.no_candidate_reason == (
            "no partner with capacity left covers ZIP 94107 for plumbing "
            "(2 candidates: 1 same company as referrer, 1 at daily capacity)"
        )


class TestInputChecks:
    def test_duplicate_candidates_are_refused(self) -> None:
        with pytest.raises(ValueError, match="duplicate candidates: 00000000-0000-0000-0000-000000000002"):
            select([candidate(2), candidate(3), candidate(2, routings_today=4)])

    def test_now_must_be_aware(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            select_receivers(JOB, REFERRER, [], datetime(2025, 3, 5, 10), FAN_OUT_ALL, fairness_key="job-1")

    def test_fairness_key_must_not_be_empty(self) -> None:
        with pytest.raises(ValueError, match="fairness_key"):
            select([candidate(2)], key="")

    def test_profile_cannot_prefer_and_exclude_the_same_partner(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            candidate(2, preferred_partner_ids=(REFERRER,), excluded_partner_ids=(REFERRER,))
        assert [error["loc"] for error in excinfo.value.errors()] == [("excluded_partner_ids",)]

    @pytest.mark.parametrize(("field", "value"), [("routings_today", -1), ("routings_today", "3")])
    def test_candidate_counts_are_non_negative_ints(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError) as excinfo:
            Candidate.model_validate(candidate(2).model_dump() | {field: value})
        assert [error["loc"] for error in excinfo.value.errors()] == [(field,)]


class TestFairness:
    def test_ties_spread_evenly_across_jobs(self) -> None:
        tied = [candidate(n) for n in (2, 3, 4)]
        firsts = Counter(select(tied, key=f"job-{i}").chosen[0] for i in range(3000))
        assert set(firsts) == {c.company_id for c in tied}
        for company, count in firsts.items():
            assert 0.28 <= count / 3000 <= 0.38, (company, count)

    def test_same_job_always_gets_the_same_order(self) -> None:
        tied = [candidate(n) for n in range(2, 8)]
        assert len({tuple(select(tied, key="job-42").chosen) for _ in range(20)}) == 1
        # ...while other jobs shuffle the tie differently.
        assert len({tuple(select(tied, key=f"job-{i}").chosen) for i in range(50)}) > 10


@st.composite
def candidate_pools(draw: st.DrawFn) -> list[Candidate]:
    numbers = draw(st.lists(st.integers(min_value=1, max_value=30), min_size=0, max_size=8, unique=True))
    pool = []
    for n in numbers:
        capacity = draw(st.integers(min_value=0, max_value=4))
        pool.append(
            candidate(
                n,
                partnership=draw(
                    st.sampled_from([ACTIVE, None, ACTIVE.model_copy(update={"preferred_by_referrer": True})])
                ),
                routings_today=draw(st.integers(min_value=0, max_value=capacity + 1)),
                recent=draw(st.none() | st.integers(min_value=0, max_value=2)),
                trades=draw(st.sampled_from([(Trade.PLUMBING,), (Trade.ROOFING,)])),
                business_hours=draw(st.sampled_from([WEEKDAYS_8_TO_17, NEVER_OPEN])),
                daily_capacity=capacity,
                preferred_partner_ids=draw(st.sampled_from([(), (REFERRER,)])),
            )
        )
    return pool


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    pool=candidate_pools(),
    mode=st.sampled_from([FanOutMode(fan_out_count=1), FanOutMode(fan_out_count=3), SEQUENTIAL]),
    key=st.text(min_size=1, max_size=12),
)
def test_input_order_never_changes_the_result(
    data: st.DataObject, pool: list[Candidate], mode: FanOutMode | SequentialMode, key: str
) -> None:
    selection = select(pool, mode, key)
    shuffled = data.draw(st.permutations(pool))
    assert select(shuffled, mode, key) == selection
    # Every candidate is accounted for exactly once.
    assert set(selection.chosen).isdisjoint(selection.rejected)
    assert set(selection.chosen) | set(selection.rejected) == {c.company_id for c in pool}
    assert (selection.no_candidate_reason is None) == bool(selection.chosen)
    if isinstance(mode, FanOutMode):
        assert len(selection.chosen) <= mode.fan_out_count


def test_a_burst_of_jobs_spreads_over_nearly_equal_receivers():
    # Jobs created together read the same counts; small differences in load must not send the
    # whole burst to the one receiver that happens to be a routing or two behind.
    receivers = [
        candidate(n, routings_today=n % 3, recent=4 + n % 4, daily_capacity=1000) for n in range(2, 12)
    ]
    firsts = Counter(
        select(receivers, FanOutMode(fan_out_count=1), key=f"job-{i}").chosen[0] for i in range(500)
    )
    assert len(firsts) == 10 and min(firsts.values()) >= 25
