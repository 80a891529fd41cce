"""Who the caller is in routing: a company (its API key's tenant), or a platform admin."""

from typing import Annotated

from fastapi import Depends

from api.deps import Caller, Session
from api.problems import ProblemError
from store.routing import Company


async def current_company(who: Caller, session: Session) -> Company:
    company = await session.get(Company, who.tenant_id)
    if company is None:
        raise ProblemError(
            403,
            "Not a routing company",
            "This API key belongs to a tenant that is not a routing company; "
            "an admin creates companies with POST /api/routing/companies.",
        )
    return company


Me = Annotated[Company, Depends(current_company)]
