"""Who the caller is in routing: a company (its API key's tenant), or a platform admin."""

from typing import Annotated

from fastapi import Depends, Request

from api.deps import BearerKey, Session, invalid_key
from api.keys import authenticate_with
from api.middleware import note_tenant
from api.problems import ProblemError
from store.routing import Company


async def current_company(request: Request, key: BearerKey, session: Session) -> Company:
    # The key and its company in one query: every routing request starts here.
    found = await authenticate_with(session, key, Company)
    if found is None:
        raise invalid_key()
    who, company = found
    note_tenant(request.scope, who.tenant_id)
    if company is None:
        raise ProblemError(
            403,
            "Not a routing company",
            "This API key belongs to a tenant that is not a routing company; "
            "an admin creates companies with POST /api/routing/companies.",
        )
    return company


Me = Annotated[Company, Depends(current_company)]
