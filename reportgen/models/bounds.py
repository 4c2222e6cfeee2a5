"""Declared bounds for the data-dependent part of a model (proposals after NMS, detections per
image): the count is exact *at the bound*, and the report shows that part separately."""

from __future__ import annotations

from pydantic import BaseModel, Field

from reportgen.text import Msg


class DeclaredBound(BaseModel):
    """One data-dependent size fixed at a stated value, and what it costs at that value."""

    what: Msg  # e.g. msg("bound.proposals")
    value: int  # per image
    source: str  # where the value comes from, e.g. "rpn.post_nms_top_n_test (model config)"
    modules: list[str] = Field(default_factory=list)  # module subtrees whose size it sets
    macs: int = 0  # counted MACs of those modules at the bound
    mac_share: float = 0.0  # of the whole network's MACs
