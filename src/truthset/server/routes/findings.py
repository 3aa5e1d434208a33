"""Data-check findings over the API: list them, and record a reviewer's verdict on one.

``truthset check`` writes findings; a reviewer says whether each was right (the label or item
was ``wrong``), a false alarm (``right``) or ``ambiguous``; ``truthset check --precision``
measures each check from those verdicts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from truthset.server.auth import Reviewer
from truthset.server.inputs import PathId, QueryId, QueryText
from truthset.services import checks

router = APIRouter(prefix="/api", tags=["findings"])


class FindingVerdict(BaseModel):
    verdict: str = Field(max_length=20, description="wrong (the finding is right), right (a false alarm) or ambiguous")


@router.get("/findings")
def findings(
    request: Request,
    item_id: QueryId = None,
    check: QueryText = None,
    limit: int = Query(200, ge=1, le=5000),
    *,
    account: Reviewer,
) -> dict[str, Any]:
    """Findings of the data checks, of one check or about one item."""
    return {"findings": checks.list_findings(request.app.state.project, check=check, item_id=item_id, limit=limit)}


@router.post("/findings/{finding_id}/verdict")
def finding_verdict(finding_id: PathId, body: FindingVerdict, request: Request, *, account: Reviewer) -> dict[str, Any]:
    """Record the reviewer's verdict on a finding (a later verdict replaces it)."""
    return checks.record_finding_verdict(request.app.state.project, finding_id, account.id, body.verdict)
