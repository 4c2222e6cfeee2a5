"""Numbers with provenance in the platform catalog: a :class:`Figure` carries its value, unit,
``status`` (how much to trust it: ``STATUS_MEANING``; the roofline uses only ``USABLE_STATUSES``)
and source ids that resolve to URLs in the platform's ``sources:`` list (:class:`Source`); a
:class:`Peak` is one compute unit's throughput at one precision, dense and optionally sparse
(2:4 structured sparsity). Units follow the catalog: peaks in TFLOPS/TOPS (1e12 op/s, 1 MAC =
2 ops), bandwidth in GB/s (1e9 B/s), capacity in GB (1e9 B), power in W, price in USD;
``Figure.si`` converts to base SI units with ``UNIT_SCALE``. No torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["sourced", "derived", "claim_low", "unsourced", "measured", "user"]


#: statuses whose value the roofline uses without asking (claim_low needs user confirmation)
USABLE_STATUSES: frozenset[str] = frozenset({"sourced", "derived", "measured", "user"})


STATUS_MEANING: dict[str, str] = {
    "sourced": "appears on the cited page",
    "derived": "computed from sourced numbers (estimate)",
    "claim_low": "only on a low-reliability page; not used unless confirmed",
    "unsourced": "not found; unknown",
    "measured": "measured on this machine",
    "user": "given in the spec",
}


#: multiplier from a catalog unit to base SI (op/s, B/s, B, W, USD)
UNIT_SCALE: dict[str, float] = {
    "TFLOPS": 1e12, "TOPS": 1e12, "GFLOPS": 1e9, "GOPS": 1e9,
    "GB/s": 1e9, "MB/s": 1e6,
    "GB": 1e9, "MB": 1e6, "KB": 1e3, "B": 1.0,
    "W": 1.0, "USD": 1.0, "count": 1.0,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Source(Strict):
    id: str
    url: str
    kind: str = ""
    note: str | None = None


class Figure(Strict):
    """One number with its unit and provenance. ``value`` is ``None`` when unknown."""

    value: float | None = None
    unit: str = ""
    status: Status
    src: list[str] = Field(default_factory=list, description="ids into the platform's sources")
    note: str | None = None
    derivation: str | None = Field(None, description="formula, for status 'derived'")
    claimed_value: float | None = Field(None, description="the low-reliability value (claim_low)")
    text: str | None = Field(None, description="vendor wording when not a single number")
    confidence: str | None = None
    urls: list[str] = Field(default_factory=list, description="src resolved to URLs (filled on load)")

    @property
    def usable(self) -> bool:
        """True when the roofline may use the value without asking the user."""
        return self.value is not None and self.status in USABLE_STATUSES

    @property
    def si(self) -> float | None:
        """The value in base SI units (op/s, B/s, B, W, USD), or None when unknown/unusable."""
        if not self.usable:
            return None
        assert self.value is not None
        return self.value * UNIT_SCALE.get(self.unit, 1.0)

    def problems(self) -> list[str]:
        """Schema rules that a figure must satisfy for its status."""
        out: list[str] = []
        if self.status == "sourced" and not self.src:
            out.append("status 'sourced' needs at least one src id")
        if self.status == "derived" and not self.derivation:
            out.append("status 'derived' needs a derivation")
        if self.status == "claim_low" and (self.value is not None or self.claimed_value is None):
            out.append("status 'claim_low' keeps value null and gives claimed_value")
        if self.status == "unsourced" and self.value is not None:
            out.append("status 'unsourced' must have value null")
        if self.status in ("measured", "user") and self.value is None and self.note is None:
            out.append(f"status '{self.status}' needs a value (or a note saying how it is filled)")
        if self.unit and self.unit not in UNIT_SCALE:
            out.append(f"unknown unit '{self.unit}' (known: {', '.join(UNIT_SCALE)})")
        return out


class Peak(Strict):
    """Peak throughput of one compute unit at one precision, dense and (optionally) sparse."""

    dense: float | None = None
    sparse: float | None = None
    unit: str = "TOPS"
    status: Status
    dense_status: Status | None = Field(None, description="status of dense when it differs "
                                                          "(dense = sparse / 2 → derived)")
    supported: bool = Field(True, description="false: the unit cannot run this precision")
    src: list[str] = Field(default_factory=list)
    note: str | None = None
    derivation: str | None = None
    claimed_value: float | None = None
    confidence: str | None = None

    def figure(self, sparse: bool = False) -> Figure:
        if sparse:
            return Figure(value=self.sparse, unit=self.unit, status=self.status if self.sparse
                          is not None else "unsourced", src=self.src, note=self.note,
                          derivation=self.derivation, confidence=self.confidence)
        status = self.dense_status or self.status
        derivation = self.derivation
        if self.dense_status == "derived" and not derivation:
            derivation = "dense = sparse / 2 (2:4 structured sparsity doubles the rate)"
        return Figure(value=self.dense, unit=self.unit, status=status, src=self.src,
                      note=self.note, derivation=derivation, claimed_value=self.claimed_value,
                      confidence=self.confidence)
