"""Where a receiving company works: a set of ZIP codes or a radius around a point."""

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from domain.routing.base import RoutingModel, sorted_unique
from domain.routing.models import Address

# Mean Earth radius (IUGG); the spherical model is off by < 0.5 %, far below what a
# service radius means in practice.
EARTH_RADIUS_KM = 6371.0088

Zip5 = Annotated[str, Field(pattern=r"^\d{5}$")]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class ZipCodeArea(RoutingModel):
    kind: Literal["zip_codes"] = "zip_codes"
    zip_codes: Annotated[tuple[Zip5, ...], AfterValidator(sorted_unique)] = Field(
        min_length=1, max_length=10_000
    )

    def covers(self, address: Address) -> bool:
        # ZIP+4 narrows delivery within the same ZIP; the area is defined by the 5-digit part.
        return address.zip5 in self.zip_codes


class RadiusArea(RoutingModel):
    kind: Literal["radius"] = "radius"
    center_lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    center_lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    radius_km: float = Field(gt=0, le=1000, allow_inf_nan=False)

    def covers(self, address: Address) -> bool:
        # Without coordinates distance is unknown; guessing would route jobs to companies
        # that may not serve them, so only ZIP areas can cover such an address.
        if address.lat is None or address.lon is None:
            return False
        return haversine_km(self.center_lat, self.center_lon, address.lat, address.lon) <= self.radius_km


ServiceArea = Annotated[ZipCodeArea | RadiusArea, Field(discriminator="kind")]
