"""The memory module (MSTI-Net eq. 4-8) and its "none" ablation (Table II model D)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from torch import Tensor

from vadkit.interfaces import Memory, MemoryOutput


class MemoryBank(Memory):
    """N prototype items of C channels; every bottleneck pixel is a query.

    Read (eq. 4): w = softmax(cos(q, p)) over the items, y_hat = w^T M; the decoder gets
    concat(q, y_hat) as in MNAD. Update (eq. 5, training only unless ``update_at_test``):
    p_i <- l2norm(p_i + sum_k v_ik q_k) over the queries whose nearest item is p_i, with v the
    softmax over queries normalised by its maximum (MNAD's rule). Auxiliary losses as the
    project brief writes eq. 7-8: ``separate`` = entropy of the read weights, ``compact`` =
    mean max(|cos(y_hat, q)| - delta, 0). ``distance`` is the mean squared distance of each
    frame's queries to their nearest items (D(q, p) of eq. 10).
    """

    def __init__(self, channels: int, slots: int = 10, delta: float = 0.1, update_at_test: bool = False) -> None:
        super().__init__()
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.channels = channels
        self.out_channels = 2 * channels
        self.slots = slots
        self.delta = float(delta)
        self.update_at_test = update_at_test
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("items", F.normalize(torch.randn(slots, channels, generator=generator), dim=1))

    def forward(self, query: Tensor) -> MemoryOutput:
        dtype = query.dtype
        with torch.autocast(device_type=query.device.type, enabled=False):
            q = F.normalize(rearrange(query.float(), "b c h w -> b h w c"), dim=-1)
            items = self.items.float()
            cos = einsum(q, items, "b h w c, n c -> b h w n")
            weights = cos.softmax(dim=-1)
            read = einsum(weights, items, "b h w n, n c -> b h w c")

            entropy = -(weights * torch.log(weights + 1e-12)).sum(dim=-1).mean()
            read_cos = F.cosine_similarity(read, q, dim=-1)
            compact = F.relu(read_cos.abs() - self.delta).mean()
            nearest = items[cos.argmax(dim=-1)]
            distance = (q - nearest).pow(2).mean(dim=-1).mean(dim=(1, 2))

            if self.training or self.update_at_test:
                self._update(q.detach(), cos.detach())
        features = rearrange(torch.cat([q, read], dim=-1), "b h w c -> b c h w").to(dtype)
        return MemoryOutput(
            features=features,
            distance=distance,
            losses={"separate": entropy, "compact": compact},
            weights=weights,
        )

    @torch.no_grad()
    def _update(self, q: Tensor, cos: Tensor) -> None:
        queries = rearrange(q, "b h w c -> (b h w) c")
        scores = rearrange(cos, "b h w n -> (b h w) n")
        over_queries = scores.softmax(dim=0)
        nearest = F.one_hot(scores.argmax(dim=1), self.slots).to(queries.dtype)
        v = over_queries / over_queries.max(dim=0, keepdim=True).values * nearest
        update = einsum(v, queries, "k n, k c -> n c")
        # a new tensor, not an in-place write: this step's read still needs the old items
        self.items = F.normalize(self.items.float() + update, dim=1).to(self.items.dtype)


class NoMemory(Memory):
    """No memory: the bottleneck goes straight to the decoder; distance is 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.out_channels = channels

    def forward(self, query: Tensor) -> MemoryOutput:
        return MemoryOutput(features=query, distance=query.new_zeros(query.shape[0], dtype=torch.float32))
