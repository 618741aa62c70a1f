"""The memory module (MSTI-Net eq. 4-8) and its "none" ablation (Table II model D).

Two training objectives are available (recipe key ``model.memory.objective``):

- ``"paper"``: eq. 7-8 as written. ``separate`` = sum_i -w_i log w_i (entropy of each query's
  read weights), ``compact`` = max(|cos(y_hat, y)| - delta, 0) per query; both averaged over
  the queries of the batch.
- ``"mnad"``: MNAD's objective (Park et al., CVPR 2020). ``gather`` = mean over queries of
  ||q - p_1||^2 / C (MNAD's compactness, an MSE to the nearest item p_1), ``triplet`` = mean
  over queries of max(||q - p_1|| - ||q - p_2|| + margin, 0) (MNAD's separateness, p_2 the
  second-nearest item, margin 1.0).

The items are a buffer updated by rule, never by gradient; each loss pulls or pushes the
queries only.

``read_grad`` says whether the read's softmax weights pass a gradient from the decoder back to
the queries (vadkit's default, true). MNAD's official code detaches them
(``softmax_score_memory.detach()`` in its ``read``), so with ``read_grad = false`` the read
half of the decoder's input is a constant of the step and the queries learn only through their
own half and the two losses; the losses themselves are the same either way.

``init`` is how the items start, each L2-normalised, from a fixed seed: ``"gaussian"``
(vadkit's default: nearly orthogonal unit vectors) or ``"uniform"`` (MNAD's code,
``F.normalize(torch.rand(msize, mdim))``: samples of U[0, 1), so every item starts in the
positive orthant, close to the others).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from torch import Tensor

from vadkit.interfaces import Memory, MemoryOutput

ITEM_INITS = {"gaussian": torch.randn, "uniform": torch.rand}  # the items' samples before L2 normalisation


def paper_losses(q: Tensor, weights: Tensor, read: Tensor, delta: float) -> dict[str, Tensor]:
    """Eq. 7 (entropy of the read weights) and eq. 8 (hinged |cos| of read and query).

    q, read: (..., C); weights: (..., N). Averaged over every query.
    """
    entropy = -(weights * torch.log(weights.clamp_min(1e-12))).sum(dim=-1).mean()
    read_cos = F.cosine_similarity(read, q, dim=-1)
    compact = F.relu(read_cos.abs() - delta).mean()
    return {"separate": entropy, "compact": compact}


def mnad_losses(q: Tensor, items: Tensor, cos: Tensor, margin: float) -> dict[str, Tensor]:
    """MNAD's compactness (``gather``) and separateness (``triplet``) on unit queries and items.

    q: (..., C); items: (N, C); cos: (..., N) cosine of every query with every item. The
    nearest items are constants (MNAD detaches them), so gradients reach the queries only.
    """
    top2 = cos.topk(2, dim=-1).indices
    first, second = items[top2[..., 0]].detach(), items[top2[..., 1]].detach()
    gather = (q - first).pow(2).mean(dim=-1).mean()
    d_first = (q - first).pow(2).sum(dim=-1).sqrt()
    d_second = (q - second).pow(2).sum(dim=-1).sqrt()
    triplet = F.relu(d_first - d_second + margin).mean()
    return {"gather": gather, "triplet": triplet}


def read_diagnostics(q: Tensor, items: Tensor, cos: Tensor, weights: Tensor) -> dict[str, Tensor]:
    """How the memory is used by this batch (no gradient).

    ``entropy``: mean entropy of the read weights (ln N when uniform); ``top1``: mean largest
    read weight; ``nearest_counts``: (N,) how many queries each item is nearest to;
    ``nearest_distance``: mean L2 distance of a query to its nearest item.
    """
    with torch.no_grad():
        nearest = cos.argmax(dim=-1)
        return {
            "entropy": -(weights * torch.log(weights.clamp_min(1e-12))).sum(dim=-1).mean(),
            "top1": weights.max(dim=-1).values.mean(),
            "nearest_counts": torch.bincount(nearest.flatten(), minlength=items.shape[0]).float(),
            "nearest_distance": (q - items[nearest]).pow(2).sum(dim=-1).sqrt().mean(),
        }


def _objective_paper(
    memory: MemoryBank, q: Tensor, items: Tensor, cos: Tensor, weights: Tensor, read: Tensor
) -> dict[str, Tensor]:
    return paper_losses(q, weights, read, memory.delta)


def _objective_mnad(
    memory: MemoryBank, q: Tensor, items: Tensor, cos: Tensor, weights: Tensor, read: Tensor
) -> dict[str, Tensor]:
    return mnad_losses(q, items, cos, memory.margin)


# objective name -> the named losses it returns (keys the recipe's [loss.weights] weigh)
OBJECTIVES = {"paper": _objective_paper, "mnad": _objective_mnad}


class MemoryBank(Memory):
    """N prototype items of C channels; every bottleneck pixel is a query.

    Read (eq. 4): w = softmax(cos(q, p)) over the items, y_hat = w^T M; the decoder gets
    concat(q, y_hat) as in MNAD, q L2-normalised, so ``features[:, :C]`` are the queries.
    Update (eq. 5, training only unless ``update_at_test``): p_i <- l2norm(p_i + sum_k v_ik q_k)
    over the queries whose nearest item is p_i, v the softmax over queries normalised by its
    maximum (MNAD's rule); items nearest to no query are left as they are. ``objective``
    picks the auxiliary losses, ``read_grad`` whether the read passes a gradient to the
    queries (module docstring). ``distance`` is the mean squared distance
    (per channel) of each frame's queries to their nearest items (D(q, p) of eq. 10).
    """

    def __init__(
        self,
        channels: int,
        slots: int = 10,
        delta: float = 0.1,
        update_at_test: bool = False,
        objective: str = "mnad",
        margin: float = 1.0,
        read_grad: bool = True,
        init: str = "gaussian",
    ) -> None:
        super().__init__()
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(repr(o) for o in OBJECTIVES)}, got {objective!r}")
        if not isinstance(read_grad, bool):
            raise ValueError(f"read_grad must be true or false, got {read_grad!r}")
        if init not in ITEM_INITS:
            raise ValueError(f"init must be one of {', '.join(repr(i) for i in ITEM_INITS)}, got {init!r}")
        if objective == "mnad" and slots < 2:
            raise ValueError(
                f"objective 'mnad' needs slots >= 2 (its triplet uses the second-nearest item), got {slots}"
            )
        self.channels = channels
        self.out_channels = 2 * channels
        self.slots = slots
        self.delta = float(delta)
        self.update_at_test = update_at_test
        self.objective = objective
        self.margin = float(margin)
        self.read_grad = read_grad
        generator = torch.Generator().manual_seed(0)
        self.items: torch.Tensor
        self.register_buffer("items", F.normalize(ITEM_INITS[init](slots, channels, generator=generator), dim=1))

    def forward(self, query: Tensor) -> MemoryOutput:
        dtype = query.dtype
        with torch.autocast(device_type=query.device.type, enabled=False):
            q = F.normalize(rearrange(query.float(), "b c h w -> b h w c"), dim=-1)
            items = self.items.float()
            cos = einsum(q, items, "b h w c, n c -> b h w n")
            weights = cos.softmax(dim=-1)
            read = einsum(weights, items, "b h w n, n c -> b h w c")
            losses = OBJECTIVES[self.objective](self, q, items, cos, weights, read)
            diagnostics = read_diagnostics(q, items, cos, weights)
            nearest = items[cos.argmax(dim=-1)]
            distance = (q - nearest).pow(2).mean(dim=-1).mean(dim=(1, 2))

            if self.training or self.update_at_test:
                self._update(q.detach(), cos.detach())
        # the losses above keep the read's gradient; the decoder's copy drops it when MNAD's detach is asked for
        decoder_read = read if self.read_grad else read.detach()
        features = rearrange(torch.cat([q, decoder_read], dim=-1), "b h w c -> b c h w").to(dtype)
        return MemoryOutput(
            features=features, distance=distance, losses=losses, weights=weights, diagnostics=diagnostics
        )

    @torch.no_grad()
    def update_items(self, query: Tensor, normal_mask: Tensor) -> int:
        """Test-time update (MNAD): apply eq. 5's rule with the queries of the frames whose
        ``normal_mask`` is True only, e.g. frames whose anomaly score is below a threshold.

        query: (B, C, h, w), the memory's input or ``output.features[:, :C]`` (the same
        update: queries are L2-normalised first). normal_mask: (B,) bool. Items nearest to no
        selected query are unchanged; an all-False mask changes nothing. Call once per batch,
        in stream order. Returns how many frames were used.
        """
        mask = normal_mask.to(device=query.device, dtype=torch.bool).flatten()
        if mask.numel() != query.shape[0]:
            raise ValueError(f"normal_mask has {mask.numel()} entries for a batch of {query.shape[0]} queries")
        if not bool(mask.any()):
            return 0
        q = F.normalize(rearrange(query[mask].float(), "b c h w -> b h w c"), dim=-1)
        self._update(q, einsum(q, self.items.float(), "b h w c, n c -> b h w n"))
        return int(mask.sum())

    @torch.no_grad()
    def _update(self, q: Tensor, cos: Tensor) -> None:
        queries = rearrange(q, "b h w c -> (b h w) c")
        scores = rearrange(cos, "b h w n -> (b h w) n")
        over_queries = scores.softmax(dim=0)
        nearest = F.one_hot(scores.argmax(dim=1), self.slots).to(queries.dtype)
        v = over_queries / over_queries.max(dim=0, keepdim=True).values * nearest
        update = einsum(v, queries, "k n, k c -> n c")
        touched = (nearest.sum(dim=0) > 0)[:, None]
        items = self.items.float()
        # a new tensor, not an in-place write: this step's read still needs the old items
        self.items = torch.where(touched, F.normalize(items + update, dim=1), items).to(self.items.dtype)

    @torch.no_grad()
    def sync_(self, reduce_mean) -> None:
        """Distributed training (called by the core after every step): every rank takes the
        mean of all ranks' items, re-normalised, so the ranks hold identical items."""
        self.items = F.normalize(reduce_mean(self.items.float()), dim=1).to(self.items.dtype)


class NoMemory(Memory):
    """No memory: the bottleneck goes straight to the decoder; distance is 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.out_channels = channels

    def forward(self, query: Tensor) -> MemoryOutput:
        return MemoryOutput(features=query, distance=query.new_zeros(query.shape[0], dtype=torch.float32))
