"""The built-in recommenders' networks as plain ``torch.nn`` modules, faithful to their papers:
DLRM, NeuMF (NCF), two-tower retrieval, Wide & Deep and DCN-v2, with the layers they share (an
embedding bag per sparse feature, a ReLU MLP) and ``RecModel``, the attributes the input builder
reads. The hyper-parameters of the reference configurations and the datasets' table sizes are in
``reportgen.models.recsys``, whose builders make these.

Every model has the same call signature so one input builder feeds them all::

    forward(dense: float (N, num_dense), sparse: long (N, num_sparse, ids_per_feature)) -> (N, 1)

where ``N = batch_size × num_candidates``. Each sparse feature is a bag of ids pooled with
``nn.EmbeddingBag(mode="sum")``; with ``ids_per_feature == 1`` that is a plain lookup. Each model
exposes ``num_dense``, ``table_sizes`` (rows per sparse feature, so inputs can draw valid ids)
and ``default_ids_per_feature``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def mlp(sizes: Sequence[int], *, last_activation: bool = True) -> nn.Sequential:
    """Linear+ReLU layers ``sizes[0] → sizes[1] → …``; the last ReLU is optional."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if last_activation or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class EmbeddingBags(nn.Module):
    """One ``EmbeddingBag(mode="sum")`` per sparse feature: (N, F, L) ids → (N, F, dim)."""

    def __init__(self, table_sizes: Sequence[int], dim: int) -> None:
        super().__init__()
        self.table_sizes = [int(s) for s in table_sizes]
        self.dim = dim
        self.tables = nn.ModuleList(nn.EmbeddingBag(n, dim, mode="sum") for n in self.table_sizes)

    def forward(self, sparse: Tensor) -> Tensor:
        if sparse.dim() != 3 or sparse.shape[1] != len(self.tables):
            raise ValueError(f"sparse ids must be (N, {len(self.tables)}, ids_per_feature), "
                             f"got {tuple(sparse.shape)}")
        return torch.stack([t(sparse[:, i, :].contiguous()) for i, t in enumerate(self.tables)],
                           dim=1)


class RecModel(nn.Module):
    """Base of the built-in recommenders: the attributes the input builder reads."""

    num_dense: int
    table_sizes: list[int]
    default_ids_per_feature: int = 1


# ----------------------------------------------------------------------------- DLRM

class DLRM(RecModel):
    """Deep Learning Recommendation Model (Naumov et al. 2019, arXiv:1906.00091).

    Dense features → bottom MLP → a vector of ``embedding_dim``; each sparse feature → a summed
    embedding bag of the same width; the dot interaction takes the pairwise dot products of
    these ``F + 1`` vectors (strictly lower triangle, no self-interaction, as the reference's
    default ``--arch-interaction-itself=False``) and concatenates them with the bottom-MLP output;
    the top MLP maps that to one logit, followed by a sigmoid (click probability).
    """

    def __init__(self, table_sizes: Sequence[int], *, num_dense: int = 13,
                 embedding_dim: int = 128, bottom_mlp: Sequence[int] = (512, 256, 128),
                 top_mlp: Sequence[int] = (1024, 1024, 512, 256, 1),
                 ids_per_feature: int = 1) -> None:
        super().__init__()
        if bottom_mlp[-1] != embedding_dim:
            raise ValueError(f"bottom MLP must end at embedding_dim={embedding_dim}, "
                             f"got {list(bottom_mlp)}")
        self.num_dense = num_dense
        self.table_sizes = [int(s) for s in table_sizes]
        self.default_ids_per_feature = ids_per_feature
        self.embedding_dim = embedding_dim
        self.embeddings = EmbeddingBags(self.table_sizes, embedding_dim)
        self.bottom_mlp = mlp([num_dense, *bottom_mlp])
        n_vec = len(self.table_sizes) + 1
        self.interaction_dim = embedding_dim + n_vec * (n_vec - 1) // 2
        self.top_mlp = mlp([self.interaction_dim, *top_mlp], last_activation=False)

    def interact(self, x: Tensor, emb: Tensor) -> Tensor:
        """Dot interaction: (N, D), (N, F, D) → (N, D + (F+1)F/2)."""
        t = torch.cat([x.unsqueeze(1), emb], dim=1)  # (N, F+1, D)
        z = torch.bmm(t, t.transpose(1, 2))  # (N, F+1, F+1)
        n = t.shape[1]
        # computed here, not stored as a buffer, so a meta-built model materialised with
        # to_empty() keeps correct indices
        li, lj = torch.tril_indices(n, n, offset=-1, device=z.device)
        return torch.cat([x, z[:, li, lj]], dim=1)

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        x = self.bottom_mlp(dense)
        emb = self.embeddings(sparse)
        return torch.sigmoid(self.top_mlp(self.interact(x, emb)))


# ----------------------------------------------------------------------------- NCF

class NeuMF(RecModel):
    """Neural Matrix Factorisation (He et al. 2017, "Neural Collaborative Filtering", WWW).

    Two towers over (user id, item id): GMF — the element-wise product of ``factors``-wide user
    and item embeddings; MLP — separate user and item embeddings of ``mlp_layers[0] // 2`` each,
    concatenated and passed through ReLU layers ``mlp_layers`` (the reference implementation's
    convention: the first entry is the concatenated embedding width). The two towers' outputs
    are concatenated and a single linear layer + sigmoid predicts the interaction.

    Inputs: ``sparse[:, 0]`` user ids, ``sparse[:, 1]`` item ids; no dense features.
    """

    def __init__(self, num_users: int, num_items: int, *, factors: int = 8, mlp_layers: Sequence[int] | None = None) -> None:
        super().__init__()
        layers = list(mlp_layers) if mlp_layers is not None else [4 * factors, 2 * factors, factors]
        if layers[0] % 2:
            raise ValueError(f"mlp_layers[0] (concatenated embedding width) must be even: {layers}")
        self.num_dense = 0
        self.table_sizes = [int(num_users), int(num_items)]
        self.default_ids_per_feature = 1
        self.factors = factors
        self.mlp_layers = layers
        self.gmf_embeddings = EmbeddingBags(self.table_sizes, factors)
        self.mlp_embeddings = EmbeddingBags(self.table_sizes, layers[0] // 2)
        self.mlp = mlp(layers)
        self.predict = nn.Linear(factors + layers[-1], 1)

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        g = self.gmf_embeddings(sparse)  # (N, 2, factors)
        gmf = g[:, 0] * g[:, 1]
        m = self.mlp_embeddings(sparse).flatten(1)  # (N, mlp_layers[0])
        return torch.sigmoid(self.predict(torch.cat([gmf, self.mlp(m)], dim=1)))


# ----------------------------------------------------------------------------- two-tower

class TwoTower(RecModel):
    """Two-tower retrieval model (Yi et al. 2019, "Sampling-Bias-Corrected Neural Modeling for
    Large Corpus Item Recommendations", RecSys; Covington et al. 2016 for the YouTube setting).

    A query (user) tower — dense user features and the first ``len(user_table_sizes)`` sparse
    features, pooled by embedding bags, through a ReLU MLP — and an item tower over the
    remaining sparse features produce L2-normalised embeddings; the score is their dot product
    divided by a temperature. The ``N = batch × num_candidates`` rows are grouped as
    ``num_candidates`` consecutive candidates per query: the query tower runs once per query
    (on the group's first row), the item tower once per candidate, and a batched matmul scores
    each query against its candidates — the retrieval cost structure.
    """

    def __init__(self, user_table_sizes: Sequence[int], item_table_sizes: Sequence[int], *,
                 num_dense: int = 0, embedding_dim: int = 64,
                 tower_mlp: Sequence[int] = (1024, 512, 128), temperature: float = 0.05,
                 num_candidates: int = 1, ids_per_feature: int = 1) -> None:
        super().__init__()
        self.num_dense = num_dense
        self.num_user_sparse = len(user_table_sizes)
        self.table_sizes = [int(s) for s in (*user_table_sizes, *item_table_sizes)]
        self.default_ids_per_feature = ids_per_feature
        self.num_candidates = num_candidates
        self.temperature = temperature
        self.user_embeddings = EmbeddingBags(user_table_sizes, embedding_dim)
        self.item_embeddings = EmbeddingBags(item_table_sizes, embedding_dim)
        self.user_tower = mlp([num_dense + len(user_table_sizes) * embedding_dim, *tower_mlp],
                              last_activation=False)
        self.item_tower = mlp([len(item_table_sizes) * embedding_dim, *tower_mlp],
                              last_activation=False)

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        n, c = sparse.shape[0], self.num_candidates
        if n % c:
            raise ValueError(f"{n} rows are not a whole number of queries × {c} candidates")
        k = self.num_user_sparse
        q_dense, q_sparse = dense[::c], sparse[::c, :k]  # one row per query
        u = self.user_tower(torch.cat([q_dense, self.user_embeddings(q_sparse).flatten(1)], 1))
        v = self.item_tower(self.item_embeddings(sparse[:, k:]).flatten(1))
        u = F.normalize(u, dim=-1)
        v = F.normalize(v, dim=-1).view(n // c, c, -1)
        scores = torch.bmm(v, u.unsqueeze(-1)) / self.temperature  # (B, C, 1)
        return scores.reshape(n, 1)


# ----------------------------------------------------------------------------- Wide & Deep

class WideAndDeep(RecModel):
    """Wide & Deep (Cheng et al. 2016, "Wide & Deep Learning for Recommender Systems", DLRS).

    Wide part: a generalised linear model over the raw sparse ids (a 1-wide embedding bag per
    feature = the weights of its one-hot columns), the dense features, and hashed cross-product
    features of the given feature pairs. Deep part: a ``embedding_dim``-wide embedding per
    sparse feature, concatenated with the dense features, through ReLU layers ``deep_mlp``.
    Both logits are summed and passed through a sigmoid (joint training, Sec. 3.3).
    """

    def __init__(self, table_sizes: Sequence[int], *, num_dense: int = 13,
                 embedding_dim: int = 32, deep_mlp: Sequence[int] = (1024, 512, 256),
                 cross_pairs: Sequence[Sequence[int]] = (), cross_rows: int = 1_000_000,
                 ids_per_feature: int = 1) -> None:
        super().__init__()
        self.num_dense = num_dense
        self.table_sizes = [int(s) for s in table_sizes]
        self.default_ids_per_feature = ids_per_feature
        self.cross_pairs = [(int(a), int(b)) for a, b in cross_pairs]
        self.cross_rows = cross_rows
        self.wide_embeddings = EmbeddingBags(self.table_sizes, 1)
        self.wide_cross = EmbeddingBags([cross_rows] * len(self.cross_pairs), 1)
        self.wide_dense = nn.Linear(num_dense, 1)  # its bias is the wide part's bias
        self.deep_embeddings = EmbeddingBags(self.table_sizes, embedding_dim)
        self.deep = mlp([num_dense + len(self.table_sizes) * embedding_dim, *deep_mlp, 1],
                        last_activation=False)

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        wide = self.wide_dense(dense) + self.wide_embeddings(sparse).sum(dim=1)
        if self.cross_pairs:
            # cross-product transformation: hash each (id_a, id_b) pair into cross_rows buckets
            crossed = torch.stack([(sparse[:, a] * 1_000_003 + sparse[:, b]) % self.cross_rows
                                   for a, b in self.cross_pairs], dim=1)
            wide = wide + self.wide_cross(crossed).sum(dim=1)
        deep_in = torch.cat([dense, self.deep_embeddings(sparse).flatten(1)], dim=1)
        return torch.sigmoid(wide + self.deep(deep_in))


# ----------------------------------------------------------------------------- DCN-v2

class CrossLayerV2(nn.Module):
    """One DCN-v2 cross layer: ``x_{l+1} = x_0 ⊙ (W x_l + b) + x_l`` (Wang et al. 2021, Eq. 1).

    With ``low_rank=r``, ``W = U Vᵀ`` (U, V: d × r), i.e. ``x_0 ⊙ (U (Vᵀ x_l) + b) + x_l`` (Eq. 2).
    """

    def __init__(self, dim: int, low_rank: int | None = None) -> None:
        super().__init__()
        self.low_rank = low_rank
        if low_rank is None:
            self.w = nn.Linear(dim, dim)
        else:
            self.v = nn.Linear(dim, low_rank, bias=False)
            self.u = nn.Linear(low_rank, dim)

    def forward(self, x0: Tensor, x: Tensor) -> Tensor:
        wx = self.w(x) if self.low_rank is None else self.u(self.v(x))
        return x0 * wx + x


class DCNv2(RecModel):
    """Deep & Cross Network v2 (Wang et al. 2021, "DCN V2: Improved Deep & Cross Network and
    Practical Lessons for Web-scale Learning to Rank Systems", WWW).

    ``x_0`` = the sparse features' embeddings concatenated with the dense features (width
    ``d = F·embedding_dim + num_dense``). A cross network of ``num_cross_layers`` full-rank or
    low-rank layers and a ReLU deep network are combined either stacked (deep on top of the
    cross output, Fig. 1b) or in parallel (both on ``x_0``, outputs concatenated, Fig. 1a);
    a final linear layer + sigmoid gives the click probability.
    """

    def __init__(self, table_sizes: Sequence[int], *, num_dense: int = 13,
                 embedding_dim: int = 16, num_cross_layers: int = 3,
                 low_rank: int | None = None, deep_mlp: Sequence[int] = (1024, 1024),
                 structure: str = "stacked", ids_per_feature: int = 1) -> None:
        super().__init__()
        if structure not in ("stacked", "parallel"):
            raise ValueError(f"structure must be 'stacked' or 'parallel', got {structure!r}")
        self.num_dense = num_dense
        self.table_sizes = [int(s) for s in table_sizes]
        self.default_ids_per_feature = ids_per_feature
        self.structure = structure
        self.input_dim = len(self.table_sizes) * embedding_dim + num_dense
        self.embeddings = EmbeddingBags(self.table_sizes, embedding_dim)
        self.cross = nn.ModuleList(CrossLayerV2(self.input_dim, low_rank)
                                   for _ in range(num_cross_layers))
        self.deep = mlp([self.input_dim, *deep_mlp])
        head_in = deep_mlp[-1] + (self.input_dim if structure == "parallel" else 0)
        self.head = nn.Linear(head_in, 1)

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        x0 = torch.cat([self.embeddings(sparse).flatten(1), dense], dim=1)
        x = x0
        for layer in self.cross:
            x = layer(x0, x)
        if self.structure == "stacked":
            out = self.deep(x)
        else:
            out = torch.cat([x, self.deep(x0)], dim=1)
        return torch.sigmoid(self.head(out))
