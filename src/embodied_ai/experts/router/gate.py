"""The router's gate: a small classifier from a sentence embedding to one probability per expert.

Trained with torch (CPU), exported to ONNX and run with ONNX Runtime, so routing needs no torch.
The expert names travel inside the ONNX file (metadata), so a gate file is self-describing.
"""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from embodied_ai.experts.router.embedding import EMBEDDING_DIM
from embodied_ai.experts.router.storage import atomic_write_bytes

GATE_INPUT = "embedding"
GATE_OUTPUT = "probabilities"
# ONNX Runtime 1.31 rejects graphs saved at onnx 1.23's default IR version (14).
GATE_IR_VERSION = 10
GATE_OPSET = 17
EXPERTS_METADATA_KEY = "experts"
TRAINING_METADATA_KEY = "training"


@dataclass(frozen=True)
class GateTrainingConfig:
    """Hyper-parameters of the gate; the defaults are the ones the committed gate was built with."""

    hidden_units: int = 128  # 0 gives a plain softmax regression
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    dropout: float = 0.1
    validation_fraction: float = 0.1
    seed: int = 0


@dataclass
class GateMetrics:
    """What training measured; `validation_accuracy` is on examples held out from the gate's fit."""

    examples: int
    train_examples: int
    validation_examples: int
    train_accuracy: float
    validation_accuracy: float | None
    final_loss: float
    epochs: int
    seconds: float
    examples_per_expert: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class TrainedGate:
    onnx_bytes: bytes
    experts: list[str]
    metrics: GateMetrics


def stratified_validation_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): `fraction` of each class held out, at least one per class
    with two or more examples, so every expert is both learned and checked."""
    rng = np.random.default_rng(seed)
    train_parts, validation_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held = int(round(len(members) * fraction))
        if fraction > 0 and len(members) >= 2:
            held = max(held, 1)
        held = min(held, len(members) - 1)
        validation_parts.append(members[:held])
        train_parts.append(members[held:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(validation_parts))


def train_gate(
    embeddings: np.ndarray,
    labels: Sequence[str],
    experts: Sequence[str] | None = None,
    config: GateTrainingConfig = GateTrainingConfig(),
) -> TrainedGate:
    """Fit the gate on unit embeddings (n, 384) labelled with expert names; returns ONNX bytes.

    `experts` fixes the output order (default: sorted label names); every label must be in it.
    """
    import torch  # only training needs torch; routing runs the exported ONNX

    expert_names = list(experts) if experts is not None else sorted(set(labels))
    unknown = sorted(set(labels) - set(expert_names))
    if unknown:
        raise ValueError(f"labels name experts the gate does not have: {unknown}")
    if len(expert_names) < 2:
        raise ValueError("a gate needs at least two experts to choose between")
    if embeddings.shape != (len(labels), EMBEDDING_DIM):
        raise ValueError(f"expected embeddings of shape ({len(labels)}, {EMBEDDING_DIM}), got {embeddings.shape}")

    started = time.perf_counter()
    index_of = {name: i for i, name in enumerate(expert_names)}
    y = np.array([index_of[label] for label in labels], dtype=np.int64)
    train_idx, val_idx = stratified_validation_split(y, config.validation_fraction, config.seed)

    torch.manual_seed(config.seed)
    # A 384x128 MLP on batches of 64: threads cost more in hand-offs than they save, and a
    # single thread also makes the run bit-for-bit repeatable.
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, final_loss = _fit(torch, embeddings[train_idx], y[train_idx], len(expert_names), config)
    finally:
        torch.set_num_threads(previous_threads)

    model.eval()
    with torch.no_grad():
        train_scores = model(torch.from_numpy(embeddings[train_idx].astype(np.float32)))
        train_accuracy = _accuracy(train_scores.argmax(-1).numpy(), y[train_idx])
        validation_accuracy = None
        if len(val_idx):
            logits = model(torch.from_numpy(embeddings[val_idx].astype(np.float32)))
            validation_accuracy = _accuracy(logits.argmax(-1).numpy(), y[val_idx])

    metrics = GateMetrics(
        examples=len(y),
        train_examples=len(train_idx),
        validation_examples=len(val_idx),
        train_accuracy=train_accuracy,
        validation_accuracy=validation_accuracy,
        final_loss=final_loss,
        epochs=config.epochs,
        seconds=time.perf_counter() - started,
        examples_per_expert={name: int(n) for name, n in sorted(Counter(labels).items())},
    )
    onnx_bytes = _export(torch, model, expert_names, config, metrics)
    return TrainedGate(onnx_bytes=onnx_bytes, experts=expert_names, metrics=metrics)


def _fit(torch, x: np.ndarray, y: np.ndarray, n_experts: int, config: GateTrainingConfig):
    """Mini-batch AdamW on class-weighted cross-entropy; returns (model, last epoch's mean loss)."""
    model = _build_module(torch, n_experts, config)
    x_train = torch.from_numpy(x.astype(np.float32))
    y_train = torch.from_numpy(y)
    # Weight classes by inverse frequency so a large expert dataset does not drown a small one.
    counts = np.bincount(y, minlength=n_experts).astype(np.float32)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n_experts, 0.0)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weights.astype(np.float32)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    final_loss = float("nan")
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        epoch_loss, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * len(batch)
            seen += len(batch)
        final_loss = epoch_loss / max(seen, 1)
    return model, final_loss


def _build_module(torch, n_experts: int, config: GateTrainingConfig):
    layers: list = []
    if config.hidden_units > 0:
        layers += [
            torch.nn.Linear(EMBEDDING_DIM, config.hidden_units),
            torch.nn.ReLU(),
            torch.nn.Dropout(config.dropout),
            torch.nn.Linear(config.hidden_units, n_experts),
        ]
    else:
        layers.append(torch.nn.Linear(EMBEDDING_DIM, n_experts))
    return torch.nn.Sequential(*layers)


def _accuracy(predicted: np.ndarray, expected: np.ndarray) -> float:
    return float((predicted == expected).mean()) if len(expected) else float("nan")


def _export(torch, model, experts: list[str], config: GateTrainingConfig, metrics: GateMetrics) -> bytes:
    """Logits + softmax to ONNX (legacy TorchScript exporter: the dynamo one needs onnxscript)."""
    import io

    with_softmax = torch.nn.Sequential(model, torch.nn.Softmax(dim=-1)).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            with_softmax,
            (torch.zeros(1, EMBEDDING_DIM),),
            buffer,
            dynamo=False,
            input_names=[GATE_INPUT],
            output_names=[GATE_OUTPUT],
            dynamic_axes={GATE_INPUT: {0: "batch"}, GATE_OUTPUT: {0: "batch"}},
            opset_version=GATE_OPSET,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    proto.ir_version = GATE_IR_VERSION
    proto.doc_string = "Router gate: unit all-MiniLM-L6-v2 embedding -> expert probabilities"
    _set_metadata(proto, EXPERTS_METADATA_KEY, json.dumps(experts))
    _set_metadata(
        proto,
        TRAINING_METADATA_KEY,
        json.dumps({"config": asdict(config), "metrics": metrics.to_dict()}, sort_keys=True),
    )
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _set_metadata(proto: onnx.ModelProto, key: str, value: str) -> None:
    entry = proto.metadata_props.add()
    entry.key, entry.value = key, value


class GateSession:
    """The exported gate under ONNX Runtime: embeddings in, one probability per expert out."""

    def __init__(self, onnx_bytes: bytes) -> None:
        self.onnx_bytes = onnx_bytes
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a 384x128 matmul: threads would cost more than they save
        self.session = ort.InferenceSession(onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"])
        metadata = self.session.get_modelmeta().custom_metadata_map
        if EXPERTS_METADATA_KEY not in metadata:
            raise ValueError("gate ONNX file has no expert names in its metadata")
        self.experts: list[str] = json.loads(metadata[EXPERTS_METADATA_KEY])
        self.training_info: dict = json.loads(metadata.get(TRAINING_METADATA_KEY, "{}"))

    @classmethod
    def from_file(cls, path: Path) -> GateSession:
        return cls(Path(path).read_bytes())

    def save(self, path: Path) -> None:
        atomic_write_bytes(Path(path), self.onnx_bytes)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        (probs,) = self.session.run([GATE_OUTPUT], {GATE_INPUT: embeddings.astype(np.float32, copy=False)})
        return probs
