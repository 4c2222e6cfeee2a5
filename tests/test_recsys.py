"""Built-in recommenders: closed-form parameter and MAC counts, meta construction, shapes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from reportgen.models.recsys import (
    CRITEO_KAGGLE_TABLE_SIZES,
    MLPERF_CRITEO_1TB_TABLE_SIZES,
    REGISTRY,
)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def mlp_params(sizes: Sequence[int]) -> int:
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))


def mlp_macs(batch: int, sizes: Sequence[int]) -> int:
    return sum(batch * i * o for i, o in zip(sizes[:-1], sizes[1:], strict=True))


def macs_on_meta(m: nn.Module, batch: int, ids: int = 1) -> tuple[int, dict[str, int]]:
    dense = torch.zeros(batch, m.num_dense, device="meta")
    sparse = torch.zeros(batch, len(m.table_sizes), ids, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as fc:
        out = m(dense, sparse)
    assert out.shape == (batch, 1)
    by_op = {str(k).split(".")[1]: v // 2 for k, v in fc.get_flop_counts()["Global"].items()}
    return fc.get_total_flops() // 2, by_op


def meta(name: str, **kw: object) -> nn.Module:
    with torch.device("meta"):
        return REGISTRY[name](**kw)


def real_inputs(m: nn.Module, batch: int, ids: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    dense = torch.randn(batch, m.num_dense, generator=g)
    cols = [torch.randint(0, rows, (batch, 1, ids), generator=g) for rows in m.table_sizes]
    return dense, torch.cat(cols, dim=1)


def test_registry_names() -> None:
    assert set(REGISTRY) == {"dlrm", "dlrm_small", "ncf", "two_tower", "wide_deep", "dcn_v2"}


def test_an_unknown_recommender_names_the_close_ones() -> None:
    """The spec's ``source: recsys`` name is looked up in REGISTRY by models.build."""
    from reportgen.errors import ModelBuildError
    from reportgen.models.build import build, resolve
    from reportgen.spec.load import parse_spec

    spec = parse_spec("title: t\ndomain: recsys\nmodel: {source: recsys, name: dlrmm}\nplatform: nvidia_t4\n")
    with pytest.raises(ModelBuildError, match="no built-in recommender 'dlrmm': did you mean dlrm"):
        build(resolve(spec), device="meta")


def test_table_lists() -> None:
    assert len(MLPERF_CRITEO_1TB_TABLE_SIZES) == 26 and max(MLPERF_CRITEO_1TB_TABLE_SIZES) <= 40_000_000
    assert sum(MLPERF_CRITEO_1TB_TABLE_SIZES) == 187_767_399
    assert len(CRITEO_KAGGLE_TABLE_SIZES) == 26 and sum(CRITEO_KAGGLE_TABLE_SIZES) == 33_762_577


def test_dlrm_mlperf_on_meta_closed_form() -> None:
    m = meta("dlrm")
    assert all(p.is_meta for p in m.parameters())
    assert m.num_dense == 13 and len(m.table_sizes) == 26 and m.default_ids_per_feature == 1
    emb = sum(MLPERF_CRITEO_1TB_TABLE_SIZES) * 128
    assert n_params(m.embeddings) == emb == 24_034_227_072
    assert m.interaction_dim == 128 + 27 * 26 // 2 == 479
    bottom, top = [13, 512, 256, 128], [479, 1024, 1024, 512, 256, 1]
    assert n_params(m.bottom_mlp) == mlp_params(bottom)
    assert n_params(m.top_mlp) == mlp_params(top)
    assert n_params(m) == emb + mlp_params(bottom) + mlp_params(top)

    batch = 16
    total, by_op = macs_on_meta(m, batch)
    assert by_op["addmm"] == mlp_macs(batch, bottom) + mlp_macs(batch, top)
    assert by_op["bmm"] == batch * 27 * 27 * 128  # the dot interaction (full square)
    assert total == by_op["addmm"] + by_op["bmm"]


def test_ncf_closed_form() -> None:
    m = meta("ncf")
    users, items, f = 6040, 3706, 8
    assert m.table_sizes == [users, items] and m.num_dense == 0
    assert n_params(m.gmf_embeddings) == (users + items) * f
    assert n_params(m.mlp_embeddings) == (users + items) * 2 * f
    assert n_params(m.mlp) == mlp_params([32, 16, 8])
    assert n_params(m.predict) == 2 * f + 1
    batch = 10
    total, _ = macs_on_meta(m, batch)
    # the GMF product is element-wise (not a MAC); the counted MACs are the linears
    assert total == mlp_macs(batch, [32, 16, 8]) + batch * 16 * 1


def test_two_tower_closed_form_and_candidates() -> None:
    m = meta("two_tower", num_candidates=5)
    d = 64
    assert n_params(m.user_embeddings) == 2_000_000 * d
    assert n_params(m.item_embeddings) == 1_100_000 * d
    user, item = [4 + 2 * d, 1024, 512, 128], [2 * d, 1024, 512, 128]
    assert n_params(m.user_tower) == mlp_params(user)
    assert n_params(m.item_tower) == mlp_params(item)
    queries, cands = 3, 5
    total, by_op = macs_on_meta(m, queries * cands)
    # query tower once per query, item tower once per candidate, one dot per candidate
    assert by_op["addmm"] == mlp_macs(queries, user) + mlp_macs(queries * cands, item)
    assert by_op["bmm"] == queries * cands * 128
    with pytest.raises(ValueError, match="whole number"):
        macs_on_meta(m, 7)


def test_wide_deep_closed_form() -> None:
    m = meta("wide_deep")
    rows = [min(s, 1_000_000) for s in CRITEO_KAGGLE_TABLE_SIZES]
    assert m.table_sizes == rows
    assert n_params(m.wide_embeddings) == sum(rows)
    assert n_params(m.wide_cross) == 1_000_000
    assert n_params(m.deep_embeddings) == sum(rows) * 32
    deep = [13 + 26 * 32, 1024, 512, 256, 1]
    assert n_params(m.deep) == mlp_params(deep)
    assert n_params(m.wide_dense) == 13 + 1
    batch = 4
    total, by_op = macs_on_meta(m, batch)
    assert by_op["addmm"] == mlp_macs(batch, deep) + batch * 13
    assert meta("wide_deep", max_rows=None).table_sizes == CRITEO_KAGGLE_TABLE_SIZES


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
@pytest.mark.parametrize("low_rank", [None, 64])
def test_dcn_v2_closed_form(structure: str, low_rank: int | None) -> None:
    m = meta("dcn_v2", structure=structure, low_rank=low_rank)
    d = 26 * 16 + 13
    assert m.input_dim == d == 429
    assert n_params(m.embeddings) == sum(min(s, 1_000_000) for s in CRITEO_KAGGLE_TABLE_SIZES) * 16
    per_layer = d * d + d if low_rank is None else d * low_rank + low_rank * d + d
    assert n_params(m.cross) == 3 * per_layer
    assert n_params(m.deep) == mlp_params([d, 1024, 1024])
    head_in = 1024 + (d if structure == "parallel" else 0)
    assert n_params(m.head) == head_in + 1
    batch = 8
    total, _ = macs_on_meta(m, batch)
    cross_macs = 3 * batch * (d * d if low_rank is None else 2 * d * low_rank)
    assert total == cross_macs + mlp_macs(batch, [d, 1024, 1024]) + batch * head_in


def test_dcn_v2_rejects_unknown_structure() -> None:
    with pytest.raises(ValueError, match="stacked"):
        meta("dcn_v2", structure="sideways")


SMALL = {
    "dlrm_small": {},
    "dlrm": {"table_sizes": [50] * 26, "bottom_mlp": (32, 16), "top_mlp": (32, 1),
             "embedding_dim": 16},
    "ncf": {"num_users": 40, "num_items": 30},
    "two_tower": {"user_table_sizes": [100, 50], "item_table_sizes": [80, 20], "tower_mlp": (32, 16),
                  "embedding_dim": 8, "num_candidates": 4},
    "wide_deep": {"max_rows": 100, "embedding_dim": 4, "deep_mlp": (32, 16), "cross_rows": 50},
    "dcn_v2": {"max_rows": 100, "embedding_dim": 4, "deep_mlp": (32, 16), "low_rank": 8},
}


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("ids", [1, 3])
def test_forward_on_cpu_with_real_inputs(name: str, ids: int) -> None:
    m = REGISTRY[name](**SMALL[name]).eval()
    batch = 8
    dense, sparse = real_inputs(m, batch, ids)
    with torch.no_grad():
        out = m(dense, sparse)
    assert out.shape == (batch, 1)
    assert torch.isfinite(out).all()
    if name != "two_tower":  # two-tower scores are cosine / temperature, the others probabilities
        assert ((out >= 0) & (out <= 1)).all()


def test_embedding_bag_sums_the_bag() -> None:
    m = REGISTRY["dlrm_small"]().eval()
    dense, sparse = real_inputs(m, 2, 3)
    emb = m.embeddings(sparse)
    expected = m.embeddings.tables[1].weight[sparse[:, 1]].sum(dim=1)
    torch.testing.assert_close(emb[:, 1], expected)


def test_rejects_wrong_sparse_shape() -> None:
    m = REGISTRY["dlrm_small"]()
    with pytest.raises(ValueError, match=r"\(N, 3, ids_per_feature\)"):
        m(torch.zeros(2, 4), torch.zeros(2, 4, 1, dtype=torch.long))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_printed_recipe_runs(name: str) -> None:
    """The recipe a report prints (``reportgen.models.recsys.<name>(...)``) names a real builder:
    evaluated on the meta device it builds the same network as the study did."""
    from reportgen.models.build import build, resolve
    from reportgen.spec.schema import StudySpec

    spec = StudySpec.model_validate({"title": name, "platform": "raspberry_pi_5",
                                     "model": {"source": "recsys", "name": name}})
    loaded = build(resolve(spec), device="meta")
    import reportgen.models.recsys

    assert loaded.recipe.startswith(f"reportgen.models.recsys.{name}(")
    with torch.device("meta"):
        again = eval(loaded.recipe, {"reportgen": reportgen})
    assert type(again) is type(loaded.module)
    assert sum(p.numel() for p in again.parameters()) == sum(p.numel() for p in loaded.module.parameters())
