"""A trained policy as one ONNX graph and a contract file beside it.

Every model type exports the same way: the learner gives its policy as plain arrays
(``PolicyNetwork``: dense layers, the observation's scaling, the kind of action) and
``build_graph`` writes the whole decision into the graph, so whatever runs it (the ROS policy
node, a reconcile run) feeds raw observations and gets actions ready for the task's rule:

    box observation       (observation - centre) * scale   (the normalisation used in training)
    discrete observation  the first layer's row for the index (Gather): a one-hot times the
                          weights, which is what the networks compute, without the one-hot
    dense layers          MatMul + Add, then Tanh / Relu
    discrete action       ArgMax over the outputs (Q-values, logits; the first of equal values)
    box action            Clip to the action space ([-1, 1]: the deterministic action, the mean)

``q_learning``'s table is one layer without activation on a discrete input (``W^T = Q``).
The contract (``policy.contract.json``) holds the task's ``TaskSpec`` (observation and action
order, units, limits, control rate, the rule from action to joint targets), the graph's input
and output, the scaling and clipping it contains, the model type, the ONNX file's SHA-256 and
the training record. ``OnnxPolicy`` loads the pair back and refuses a graph whose digest differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from embodied_ai.errors import InvalidRequest, validation_problems
from embodied_ai.exports.formats import ExportFailed
from embodied_ai.model_registry.store import file_sha256
from embodied_ai.skills.spec import TaskSpec

CONTRACT_VERSION = 1
ONNX_FILE = "policy.onnx"
CONTRACT_FILE = "policy.contract.json"
ONNX_POLICY_FORMAT = "onnx_policy"      # the registry's artefact formats
CONTRACT_FORMAT = "contract"
OPSET = 17
IR_VERSION = 8                          # readable by ONNX Runtime 1.14 and later (a robot's may be older)
INPUT_NAME = "observation"
OUTPUT_NAME = "action"
ACTION_TOLERANCE = 1e-5                 # box actions: ONNX Runtime and torch may round float32 sums differently
Activation = Literal["tanh", "relu", "none"]


@dataclass(frozen=True)
class ObservationScaling:
    """``(observation - centre) * scale``: each signal of a box observation from its bounds to [-1, 1]."""

    centre: np.ndarray      # float32
    scale: np.ndarray       # float32

    @classmethod
    def from_bounds(cls, low: np.ndarray, high: np.ndarray) -> ObservationScaling:
        low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
        span = np.where(high > low, high - low, 2.0)
        return cls(centre=((low + high) / 2).astype(np.float32), scale=(2.0 / span).astype(np.float32))

    def apply(self, observations: np.ndarray) -> np.ndarray:
        """The float32 operations the graph does, in the same order (so the values are identical)."""
        return (np.asarray(observations, np.float32) - self.centre) * self.scale


@dataclass(frozen=True)
class DenseLayer:
    weight: np.ndarray      # [out, in], float32 (torch's Linear layout)
    bias: np.ndarray        # [out], float32
    activation: Activation


@dataclass(frozen=True)
class PolicyNetwork:
    """A deterministic policy as arrays: what ``build_graph`` turns into ONNX."""

    observation_kind: Literal["box", "discrete"]
    observation_size: int                   # box: signals; discrete: how many observations there are
    action_kind: Literal["box", "discrete"]
    layers: tuple[DenseLayer, ...]
    scaling: ObservationScaling | None = None
    action_low: float = -1.0                # box actions are clipped to [low, high]
    action_high: float = 1.0


@dataclass(frozen=True)
class ExportedPolicy:
    onnx_path: Path
    contract_path: Path
    sha256: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TensorSpec(_Strict):
    name: str
    dtype: Literal["float32", "int64"]
    shape: tuple[int | str, ...]            # "batch": any number of rows


class ScalingSpec(_Strict):
    centre: tuple[float, ...]
    scale: tuple[float, ...]
    rule: str = "normalised = (observation - centre) * scale, inside the graph (float32)"


class PolicyContract(_Strict):
    """What ``policy.contract.json`` holds (see the module text)."""

    schema_version: int = CONTRACT_VERSION
    model_type: str
    onnx_file: str
    onnx_sha256: str
    opset: int
    input: TensorSpec
    output: TensorSpec
    observation_scaling: ScalingSpec | None
    action_clip: tuple[float, float] | None
    action_meaning: str
    task: TaskSpec
    training: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> PolicyContract:
        """The contract in ``path``; InvalidRequest listing every problem."""
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise InvalidRequest("invalid policy contract", [f"{path}: not JSON: {exc}"]) from None
        except ValidationError as exc:
            raise InvalidRequest("invalid policy contract", validation_problems(exc, "contract")) from None


def build_graph(network: PolicyNetwork) -> Any:
    """The policy as an ONNX ``ModelProto`` (input ``observation``, output ``action``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if not network.layers:
        raise ExportFailed("a policy network needs at least one layer")
    initializers: list[Any] = []
    nodes: list[Any] = []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    if network.observation_kind == "discrete":
        graph_input = helper.make_tensor_value_info(INPUT_NAME, TensorProto.INT64, ["batch"])
    else:
        graph_input = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                                    ["batch", network.observation_size])
    hidden = INPUT_NAME
    if network.scaling is not None:
        if network.observation_kind != "box":
            raise ExportFailed("observation scaling applies to a box observation only")
        hidden = node("Sub", [hidden, constant("observation_centre", network.scaling.centre)], "centred")
        hidden = node("Mul", [hidden, constant("observation_scale", network.scaling.scale)], "normalised")
    for index, layer in enumerate(network.layers):
        weight_t = np.ascontiguousarray(np.asarray(layer.weight, np.float32).T)
        if index == 0 and network.observation_kind == "discrete":
            if weight_t.shape[0] != network.observation_size:
                raise ExportFailed(f"the first layer takes {weight_t.shape[0]} inputs, the observation has "
                                   f"{network.observation_size} values")
            hidden = node("Gather", [constant(f"layer{index}_weight_t", weight_t), hidden], f"layer{index}_rows",
                          axis=0)
        else:
            hidden = node("MatMul", [hidden, constant(f"layer{index}_weight_t", weight_t)], f"layer{index}_matmul")
        hidden = node("Add", [hidden, constant(f"layer{index}_bias", np.asarray(layer.bias, np.float32))],
                      f"layer{index}_out")
        if layer.activation != "none":
            hidden = node({"tanh": "Tanh", "relu": "Relu"}[layer.activation], [hidden], f"layer{index}_act")
    outputs = int(np.asarray(network.layers[-1].weight).shape[0])
    if network.action_kind == "discrete":
        node("ArgMax", [hidden], OUTPUT_NAME, axis=1, keepdims=0, select_last_index=0)
        graph_output = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.INT64, ["batch"])
    else:
        node("Clip", [hidden, constant("action_low", np.array(network.action_low, np.float32)),
                      constant("action_high", np.array(network.action_high, np.float32))], OUTPUT_NAME)
        graph_output = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", outputs])
    graph = helper.make_graph(nodes, "policy", [graph_input], [graph_output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="embodied_ai.skills")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def export_policy(network: PolicyNetwork, spec: TaskSpec, folder: Path, model_type: str,
                  training: Mapping[str, Any]) -> ExportedPolicy:
    """``policy.onnx`` and ``policy.contract.json`` in ``folder`` (written whole: a temporary file
    each, then renamed)."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    onnx_path, contract_path = folder / ONNX_FILE, folder / CONTRACT_FILE
    write_atomically(onnx_path, build_graph(network).SerializeToString())
    onnx.checker.check_model(str(onnx_path))
    digest = file_sha256(onnx_path)
    discrete_in, discrete_out = network.observation_kind == "discrete", network.action_kind == "discrete"
    outputs = int(np.asarray(network.layers[-1].weight).shape[0])
    contract = PolicyContract(
        model_type=model_type, onnx_file=ONNX_FILE, onnx_sha256=digest, opset=OPSET,
        input=TensorSpec(name=INPUT_NAME, dtype="int64" if discrete_in else "float32",
                         shape=("batch",) if discrete_in else ("batch", network.observation_size)),
        output=TensorSpec(name=OUTPUT_NAME, dtype="int64" if discrete_out else "float32",
                          shape=("batch",) if discrete_out else ("batch", outputs)),
        observation_scaling=None if network.scaling is None else ScalingSpec(
            centre=tuple(float(v) for v in network.scaling.centre),
            scale=tuple(float(v) for v in network.scaling.scale)),
        action_clip=None if discrete_out else (network.action_low, network.action_high),
        action_meaning=("the index of one of task.action.choices" if discrete_out else
                        "one value per task.action.signals, in order, already clipped; task.action.rule turns "
                        "them into joint targets"),
        task=spec, training=dict(training))
    write_atomically(contract_path, (json.dumps(contract.model_dump(mode="json"), indent=2, sort_keys=True)
                                      + "\n").encode())
    return ExportedPolicy(onnx_path=onnx_path, contract_path=contract_path, sha256=digest)


class OnnxPolicy:
    """An exported policy run by ONNX Runtime (one thread: a controller's latency, not throughput)."""

    def __init__(self, contract: PolicyContract, onnx_path: Path) -> None:
        """InvalidRequest when ``onnx_path`` is not the graph the contract describes (SHA-256)."""
        import onnxruntime as ort

        digest = file_sha256(onnx_path)
        if digest != contract.onnx_sha256:
            raise InvalidRequest("the policy graph does not match its contract",
                                 [f"onnx_sha256: {onnx_path} has {digest}, the contract says {contract.onnx_sha256}"])
        self.contract = contract
        self.onnx_path = onnx_path
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._dtype = np.int64 if contract.input.dtype == "int64" else np.float32

    @classmethod
    def load(cls, contract_path: Path, onnx_path: Path | None = None) -> OnnxPolicy:
        """The pair: the graph named in the contract beside it, unless ``onnx_path`` is given."""
        contract = PolicyContract.read(contract_path)
        return cls(contract, onnx_path or contract_path.parent / contract.onnx_file)

    @property
    def spec(self) -> TaskSpec:
        return self.contract.task

    def act(self, observations: Any) -> np.ndarray:
        """Actions for a batch of observations (rows, or indices for a discrete observation)."""
        batch = np.asarray(observations, dtype=self._dtype)
        result: np.ndarray = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
        return result

    def act_one(self, observation: Any) -> Any:
        """The action for one observation: an int for a discrete action, else a float32 vector."""
        action = self.act(np.asarray(observation, dtype=self._dtype)[None, ...])[0]
        return int(action) if self.contract.output.dtype == "int64" else action


@dataclass(frozen=True)
class Agreement:
    """How an exported policy's actions compare with the training-time policy's."""

    observations: int
    agreement: float            # share of observations with the same action (box: within ACTION_TOLERANCE)
    max_abs_difference: float   # box actions; 0 for discrete ones

    def to_dict(self) -> dict[str, Any]:
        return {"observations": self.observations, "agreement": self.agreement,
                "max_abs_difference": self.max_abs_difference}


def compare_actions(reference: Callable[[np.ndarray], np.ndarray], policy: OnnxPolicy,
                    observations: np.ndarray) -> Agreement:
    """``reference`` (the training-time policy) and ``policy`` on the same observations."""
    expected, actual = np.asarray(reference(observations)), policy.act(observations)
    if expected.shape != actual.shape:
        raise ExportFailed(f"the exported policy gives actions of shape {actual.shape}, training's {expected.shape}")
    if policy.contract.output.dtype == "int64":
        same = expected.astype(np.int64) == actual
        return Agreement(len(observations), float(np.mean(same)), 0.0)
    difference = np.abs(expected.astype(np.float64) - actual.astype(np.float64)).reshape(len(observations), -1)
    worst = difference.max(axis=1)
    return Agreement(len(observations), float(np.mean(worst <= ACTION_TOLERANCE)), float(worst.max(initial=0.0)))


def check_observations(spec: TaskSpec, count: int, seed: int = 0) -> np.ndarray:
    """Observations to hold an export against its training-time policy: every index of a
    discrete observation, else ``count`` points drawn uniformly within the observation's bounds."""
    space = spec.observation_space()
    if isinstance(space, gym.spaces.Discrete):
        return np.arange(int(space.n), dtype=np.int64)
    rng = np.random.default_rng(seed)
    return rng.uniform(spec.observation_low(), spec.observation_high(),
                       (count, len(spec.observation.signals))).astype(np.float32)


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` in ``path`` whole or not at all (a temporary file beside it, then renamed)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
