"""Companies, technicians, partnerships, routing profiles and provider connections."""

from fastapi import APIRouter

from api.problems import ERROR_RESPONSES

router = APIRouter(prefix="/api/routing", tags=["routing"], responses=ERROR_RESPONSES)
