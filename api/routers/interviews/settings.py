"""A tenant's interview settings: whether its scorecards carry a hiring recommendation (off by
default: a score and its evidence are what the issue's users asked for; a recommendation is a
choice each organisation makes). Applies to analyses that start after the change."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from api.deps import Caller, Session
from api.problems import ERROR_RESPONSES
from store import interviews as rows

router = APIRouter(prefix="/api/interviews/settings", tags=["interviews"], responses=ERROR_RESPONSES)


class InterviewSettings(BaseModel):
    # Strict: 0 or "false" is not a yes-or-no answer here (JSON has true and false).
    model_config = ConfigDict(extra="forbid", strict=True)

    recommendation: bool = False


@router.get("", response_model=InterviewSettings)
async def get_settings(who: Caller, session: Session) -> InterviewSettings:
    row = await session.get(rows.TenantSettings, who.tenant_id)
    return InterviewSettings(recommendation=row.recommendation) if row else InterviewSettings()


@router.put("", response_model=InterviewSettings)
async def put_settings(body: InterviewSettings, who: Caller, request: Request) -> InterviewSettings:
    """Replaces the tenant's settings (committed before the answer)."""
    async with request.app.state.database.transaction() as session:
        await session.execute(
            insert(rows.TenantSettings)
            .values(tenant_id=who.tenant_id, recommendation=body.recommendation)
            .on_conflict_do_update(
                index_elements=["tenant_id"],
                set_={"recommendation": body.recommendation, "updated_at": func.now()},
            )
        )
    return body
