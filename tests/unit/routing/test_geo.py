import math

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.routing import Address, RadiusArea, ServiceArea, ZipCodeArea, haversine_km

SF = (37.7749, -122.4194)
LA = (34.0522, -118.2437)


def address(zip_code: str = "94107", coordinates: tuple[float, float] | None = None) -> Address:
    lat, lon = coordinates or (None, None)
    return Address(street="1 Main St", city="Somewhere", state="CA", zip=zip_code, lat=lat, lon=lon)


def test_haversine_known_distance() -> None:
    assert haversine_km(*SF, *LA) == pytest.approx(559, abs=2)
    assert haversine_km(*SF, *SF) == 0
    # Antipodes: half the Earth's circumference, without a math domain error from rounding.
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * 6371.0088)


class TestZipCodeArea:
    AREA = ZipCodeArea(zip_codes=("94107", "94103"))

    def test_covers_on_the_five_digit_part(self) -> None:
        assert self.AREA.covers(address("94107"))
        assert self.AREA.covers(address("94107-1234"))
        assert not self.AREA.covers(address("94110"))

    def test_covers_addresses_without_coordinates(self) -> None:
        assert self.AREA.covers(address("94103", coordinates=None))

    def test_zip_codes_are_stored_sorted_and_unique(self) -> None:
        assert ZipCodeArea(zip_codes=("94110", "94103", "94110")).zip_codes == ("94103", "94110")

    @pytest.mark.parametrize("zip_codes", [(), ("9410",), ("94107-1234",)])
    def test_invalid_zip_codes_are_rejected(self, zip_codes: tuple[str, ...]) -> None:
        with pytest.raises(ValidationError) as excinfo:
            ZipCodeArea(zip_codes=zip_codes)
        assert all(error["loc"][0] == "zip_codes" for error in excinfo.value.errors())


class TestRadiusArea:
    AREA = RadiusArea(center_lat=SF[0], center_lon=SF[1], radius_km=25)

    def test_covers_within_the_radius(self) -> None:
        oakland = (37.8044, -122.2712)  # ~13 km away
        assert self.AREA.covers(address(coordinates=oakland))
        assert not self.AREA.covers(address(coordinates=LA))

    def test_boundary_is_inclusive(self) -> None:
        area = RadiusArea(center_lat=0, center_lon=0, radius_km=haversine_km(0, 0, 0, 0.1))
        assert area.covers(address(coordinates=(0, 0.1)))

    def test_address_without_coordinates_is_not_covered(self) -> None:
        assert not self.AREA.covers(address("94107", coordinates=None))

    @pytest.mark.parametrize("radius", [0, -5, 1001, float("inf")])
    def test_radius_must_be_sane(self, radius: float) -> None:
        with pytest.raises(ValidationError) as excinfo:
            RadiusArea(center_lat=0, center_lon=0, radius_km=radius)
        assert [error["loc"] for error in excinfo.value.errors()] == [("radius_km",)]


def test_service_area_is_chosen_by_kind() -> None:
    adapter = TypeAdapter(ServiceArea)
    assert isinstance(adapter.validate_python({"kind": "zip_codes", "zip_codes": ["94107"]}), ZipCodeArea)
    radius = adapter.validate_python({"kind": "radius", "center_lat": 1, "center_lon": 2, "radius_km": 3})
    assert isinstance(radius, RadiusArea)
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "county", "name": "Marin"})
