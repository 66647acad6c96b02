"""Fine-tuning a sentence encoder with a linear head: the whole network trained on labelled text.

The head starts from the linear probe (logistic regression on the frozen embeddings), so training
begins from a sensible classifier; then the encoder and the head are trained together with AdamW on
the cross-entropy of the classes (one logit and a sigmoid for two classes, a softmax for more),
over the same pooled, normalised embeddings the probe uses. The shipped encoder is never changed:
a copy is trained. A seed fixes the shuffling and dropout, so a run repeats exactly on the same
machine and thread count.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tidal.components._text_encoders import SentenceEncoder, mean_pool


@dataclass(frozen=True)
class FineTuneSettings:
    epochs: int
    learning_rate: float
    batch_size: int
    max_length: int
    weight_decay: float
    seed: int


def fine_tune(encoder: SentenceEncoder, texts: list[str], targets: np.ndarray, weight: np.ndarray, bias: np.ndarray,
              settings: FineTuneSettings) -> tuple[SentenceEncoder, np.ndarray, np.ndarray, list[float]]:
    """A trained copy of ``encoder``, the trained head, and the mean loss of each epoch."""
    import torch

    module = copy.deepcopy(encoder.module)
    head = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        head.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    parameters = [*module.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    binary = weight.shape[0] == 1
    labels = torch.as_tensor(targets, dtype=torch.float32 if binary else torch.long)
    trainer = replace(encoder, module=module)
    rng = np.random.default_rng(settings.seed)
    losses: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        module.train()
        for _ in range(settings.epochs):
            order = rng.permutation(len(texts))
            total = 0.0
            for start in range(0, len(order), settings.batch_size):
                rows = order[start:start + settings.batch_size]
                batch = [texts[row] for row in rows]
                positions, input_ids, mask = next(iter(trainer.token_batches(batch, len(batch), settings.max_length)))
                hidden = module(input_ids=input_ids, attention_mask=mask).last_hidden_state
                logits = head(mean_pool(hidden, mask))
                wanted = labels[torch.as_tensor(rows[positions])]
                loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], wanted) if binary
                        else torch.nn.functional.cross_entropy(logits, wanted))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(rows)
            losses.append(total / len(texts))
    module.eval()
    trained = replace(encoder, module=module, name=f"{encoder.name} (fine-tuned)")
    return (trained, head.weight.detach().numpy().astype(np.float64), head.bias.detach().numpy().astype(np.float64),
            losses)


def class_indices(values: Any, classes: list[Any]) -> np.ndarray:
    lookup = {value: index for index, value in enumerate(classes)}
    return np.asarray([lookup[value] for value in values])
