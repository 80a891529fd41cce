"""Routing companies (created by an admin, each one a tenant) and their technicians."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api import keys, paging
from api.deps import Admin, Session
from api.problems import ERROR_RESPONSES, ProblemError, responses
from api.routers.admin import Name, add_tenant
from api.routers.routing.access import Me
from domain.routing import FanOutMode, RoutingMode
from domain.routing.models import Homeowner, _blank_is_none
from store.models import Role, Tenant
from store.routing import Company, Technician

router = APIRouter(prefix="/api/routing", tags=["routing"], responses=ERROR_RESPONSES)

DEFAULT_KEY_NAME = "default"

# The homeowner's contact rules, so that a phone or email means the same thing everywhere:
# blank is "not given", phones are normalised to E.164.
Phone = Annotated[str | None, BeforeValidator(_blank_is_none), AfterValidator(Homeowner._phone)]
Email = Annotated[str | None, BeforeValidator(_blank_is_none), AfterValidator(Homeowner._email)]


# -- companies ------------------------------------------------------------------------------------


class CompanyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    mode: RoutingMode = FanOutMode(fan_out_count=3)


class CompanyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    mode: RoutingMode | None = None


class CompanyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    mode: RoutingMode
    created_at: datetime


class CompanyKey(BaseModel):
    id: uuid.UUID
    prefix: str
    key: str = Field(description="The company's API key; shown once, store it now")


class CompanyCreated(CompanyOut):
    api_key: CompanyKey


@router.post(
    "/companies",
    status_code=201,
    response_model=CompanyCreated,
    responses=responses({409: "A company (or tenant) with this name exists"}),
)
async def create_company(body: CompanyCreate, session: Session, _: Admin) -> CompanyCreated:
    """A company is a tenant with routing settings; it gets a member API key named "default"."""
    tenant = await add_tenant(session, body.name, "company")
    company = Company(id=tenant.id, name=body.name, mode=body.mode.model_dump(mode="json"))
    session.add(company)
    record, secret = await keys.issue(session, tenant.id, DEFAULT_KEY_NAME, Role.member)
    await session.refresh(company)
    return CompanyCreated(
        **CompanyOut.model_validate(company).model_dump(),
        api_key=CompanyKey(id=record.id, prefix=record.prefix, key=secret),
    )


@router.get("/companies", response_model=paging.Page[CompanyOut])
async def list_companies(
    session: Session, _: Admin, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[CompanyOut]:
    live = select(Company).join(Tenant, Tenant.id == Company.id).where(Tenant.deleted_at.is_(None))
    rows = list((await session.execute(paging.apply(live, Company, cursor, limit))).scalars())
    return paging.page(rows, limit, CompanyOut.model_validate)


@router.get("/companies/me", response_model=CompanyOut)
async def get_my_company(me: Me) -> Company:
    return me


@router.patch(
    "/companies/me",
    response_model=CompanyOut,
    responses=responses({409: "A company (or tenant) with this name exists"}),
)
async def update_my_company(body: CompanyUpdate, me: Me, session: Session) -> Company:
    if body.name is not None and body.name != me.name:
        # The tenant carries the same name (and its uniqueness).
        tenant = await session.get(Tenant, me.id)
        assert tenant is not None  # companies.id references tenants.id
        tenant.name = me.name = body.name
        try:
            await session.flush()
        except IntegrityError as exc:
            raise ProblemError(
                409, "Company exists", f"A company or tenant named {body.name!r} exists."
            ) from exc
    if body.mode is not None:
        me.mode = body.mode.model_dump(mode="json")
    return me


# -- technicians ----------------------------------------------------------------------------------


class TechnicianCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100)
    phone: Phone = Field(default=None, max_length=32, description="normalised to E.164")
    email: Email = Field(default=None, max_length=254)


class TechnicianOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    phone: str | None
    email: str | None
    created_at: datetime


async def _my_technician(session: Session, me: Company, technician_id: uuid.UUID) -> Technician:
    technician = await session.get(Technician, technician_id)
    if technician is None or technician.company_id != me.id:
        raise ProblemError(404, "Technician not found", f"No technician {technician_id}.")
    return technician


@router.post("/technicians", status_code=201, response_model=TechnicianOut)
async def create_technician(body: TechnicianCreate, me: Me, session: Session) -> Technician:
    technician = Technician(company_id=me.id, name=body.name, phone=body.phone, email=body.email)
    session.add(technician)
    await session.flush()
    await session.refresh(technician)
    return technician


@router.get("/technicians", response_model=paging.Page[TechnicianOut])
async def list_technicians(
    me: Me, session: Session, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[TechnicianOut]:
    mine = select(Technician).where(Technician.company_id == me.id)
    rows = list((await session.execute(paging.apply(mine, Technician, cursor, limit))).scalars())
    return paging.page(rows, limit, TechnicianOut.model_validate)


@router.get("/technicians/{technician_id}", response_model=TechnicianOut)
async def get_technician(technician_id: uuid.UUID, me: Me, session: Session) -> Technician:
    return await _my_technician(session, me, technician_id)


@router.delete("/technicians/{technician_id}", status_code=204)
async def delete_technician(technician_id: uuid.UUID, me: Me, session: Session) -> Response:
    await session.delete(await _my_technician(session, me, technician_id))
    return Response(status_code=204)
