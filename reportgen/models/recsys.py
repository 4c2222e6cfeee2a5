"""Built-in recommender models: the reference configurations (``dlrm``, ``ncf``, ``two_tower``,
``wide_deep``, ``dcn_v2``, and a tiny ``dlrm_small`` for tests) with the public datasets' table
sizes they are built for. The networks themselves are in ``reportgen.models.recsys_nets``.

No installed package ships these, so they live here. Models build under
``with torch.device("meta"):`` without allocating anything, which is how the MLPerf DLRM
(24 billion embedding parameters, ~96 GB in fp32) is analysed.

``REGISTRY`` maps a name to a builder taking keyword hyper-parameters (a card's ``kwargs``); a
report's recipe names the builder as ``reportgen.models.recsys.<name>(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reportgen.models.recsys_nets import DLRM, DCNv2, NeuMF, RecModel, TwoTower, WideAndDeep

# The 26 Criteo Terabyte table sizes of the MLPerf Training DLRM reference: facebookresearch/dlrm
# `dlrm_s_pytorch.py` with `--data-set=terabyte --max-ind-range=40000000` (the MLPerf
# `bench/run_and_time.sh` setting); every categorical feature's vocabulary is hashed to at most
# 40M rows. Sum: 187,767,399 rows.
MLPERF_CRITEO_1TB_TABLE_SIZES: list[int] = [
    39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546, 403346, 10,
    2208, 11938, 155, 4, 976, 14, 39979771, 25641295, 39664984, 585935, 12972, 108, 36,
]

# The 26 Criteo Display Advertising Challenge (Kaggle, 7 days) vocabularies as counted by the
# DLRM reference (`--data-set=kaggle`, no hashing) and torchrec's Criteo Kaggle defaults.
# Sum: 33,762,577 rows.
CRITEO_KAGGLE_TABLE_SIZES: list[int] = [
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27,
    14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
]

# MovieLens-1M as used by He et al. 2017, Table 1: 6,040 users, 3,706 items.
MOVIELENS_1M_USERS = 6040
MOVIELENS_1M_ITEMS = 3706


def capped(sizes: Sequence[int], max_rows: int | None) -> list[int]:
    """Table sizes after hashing every vocabulary into at most ``max_rows`` rows."""
    return [int(s) if max_rows is None else min(int(s), int(max_rows)) for s in sizes]


def dlrm(**kw: object) -> DLRM:
    """DLRM in the MLPerf Training Criteo-1TB configuration (facebookresearch/dlrm reference,
    ``--arch-sparse-feature-size=128 --arch-mlp-bot=13-512-256-128
    --arch-mlp-top=1024-1024-512-256-1 --max-ind-range=40000000``): 13 dense features, 26 sparse
    features with :data:`MLPERF_CRITEO_1TB_TABLE_SIZES`, dot interaction (479 = 128 + 351 inputs
    to the top MLP). 24.0 billion embedding parameters: build it on the meta device."""
    args: dict = {"table_sizes": MLPERF_CRITEO_1TB_TABLE_SIZES}
    args.update(kw)
    return DLRM(**args)


def dlrm_small(**kw: object) -> DLRM:
    """A tiny DLRM for tests: 4 dense, 3 sparse features of 10/20/30 rows, dim 8."""
    args: dict = {"table_sizes": [10, 20, 30], "num_dense": 4, "embedding_dim": 8,
                  "bottom_mlp": (16, 8), "top_mlp": (16, 1)}
    args.update(kw)
    return DLRM(**args)


def ncf(**kw: object) -> NeuMF:
    """NeuMF on MovieLens-1M (6,040 users × 3,706 items, the paper's Table 1) with predictive
    factors 8: GMF embeddings of 8, MLP embeddings of 16 and tower 32 → 16 → 8, as the paper
    describes for factors 8 (Sec. 4.1; it evaluates 8/16/32/64: pass ``factors=``)."""
    args: dict = {"num_users": MOVIELENS_1M_USERS, "num_items": MOVIELENS_1M_ITEMS}
    args.update(kw)
    return NeuMF(**args)


def two_tower(**kw: object) -> TwoTower:
    """Our reference two-tower configuration in the YouTube setting (not a paper table):
    query tower over 4 dense features + user id (1M rows) and a watch-history bag over the video
    vocabulary (1M rows); item tower over video id (1M rows) and channel id (100k rows);
    embeddings 64, both towers 1024 → 512 → 128, temperature 0.05 (the paper tunes τ around
    0.05), watch history of 1 id by default (raise ``ids_per_feature`` for longer bags)."""
    args: dict = {"user_table_sizes": [1_000_000, 1_000_000],
                  "item_table_sizes": [1_000_000, 100_000], "num_dense": 4}
    args.update(kw)
    return TwoTower(**args)


def wide_deep(**kw: object) -> WideAndDeep:
    """Wide & Deep on the Criteo Kaggle schema (the paper's Google Play features are not
    public): 13 dense + 26 sparse features, vocabularies :data:`CRITEO_KAGGLE_TABLE_SIZES`
    hashed to at most ``max_rows=1_000_000`` rows (so the model fits in host memory; pass
    ``max_rows=None`` for the full 33.8M-row vocabularies), 32-wide embeddings and a
    1024 → 512 → 256 ReLU tower as in the paper (Sec. 4.1), one hashed cross-product feature
    of the first two categorical features in the wide part."""
    max_rows = kw.pop("max_rows", 1_000_000)
    args: dict = {"table_sizes": capped(CRITEO_KAGGLE_TABLE_SIZES, max_rows),  # type: ignore[arg-type]
                  "cross_pairs": [(0, 1)]}
    args.update(kw)
    return WideAndDeep(**args)


def dcn_v2(**kw: object) -> DCNv2:
    """DCN-v2 on the Criteo Kaggle schema: 13 dense + 26 sparse features, vocabularies
    :data:`CRITEO_KAGGLE_TABLE_SIZES` hashed to at most ``max_rows=1_000_000`` rows (pass
    ``max_rows=None`` for the full vocabularies), 16-wide embeddings (d = 429), 3 full-rank
    cross layers stacked under a 1024 → 1024 ReLU network. Our reference configuration in the
    paper's search space (Sec. 7: 1–4 cross layers, deep layers of 1024); ``low_rank=`` gives the
    low-rank variant, ``structure="parallel"`` the parallel one."""
    max_rows = kw.pop("max_rows", 1_000_000)
    args: dict = {"table_sizes": capped(CRITEO_KAGGLE_TABLE_SIZES, max_rows)}  # type: ignore[arg-type]
    args.update(kw)
    return DCNv2(**args)


REGISTRY: dict[str, Callable[..., RecModel]] = {
    "dlrm": dlrm,
    "dlrm_small": dlrm_small,
    "ncf": ncf,
    "two_tower": two_tower,
    "wide_deep": wide_deep,
    "dcn_v2": dcn_v2,
}
