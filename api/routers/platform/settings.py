"""A tenant's platform settings: the strategy its jobs use when they name none."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from api.deps import Caller, Session
from api.problems import ERROR_RESPONSES
from domain.platform.spec import Strategy
from store.platform import PlatformTenant

router = APIRouter(prefix="/api/platform/settings", tags=["platform: settings"], responses=ERROR_RESPONSES)


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_strategy: Strategy = Field(
        Strategy.LEAST_LOADED, description="How a worker is chosen for the tenant's jobs naming none"
    )


@router.get("", response_model=TenantSettings)
async def get_settings(who: Caller, session: Session) -> TenantSettings:
    query = select(PlatformTenant.default_strategy).where(PlatformTenant.tenant_id == who.tenant_id)
    strategy = (await session.execute(query)).scalar()
    return TenantSettings(default_strategy=Strategy(strategy) if strategy else Strategy.LEAST_LOADED)


@router.put("", response_model=TenantSettings)
async def put_settings(body: TenantSettings, who: Caller, session: Session) -> TenantSettings:
    """Applies to jobs created from now on; a job keeps the strategy it was created with."""
    strategy = body.default_strategy.value
    await session.execute(
        insert(PlatformTenant)
        .values(tenant_id=who.tenant_id, default_strategy=strategy)
        .on_conflict_do_update(index_elements=[PlatformTenant.tenant_id], set_={"default_strategy": strategy})
    )
    return body
