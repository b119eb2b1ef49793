"""ROS parameters declared from the core library's config models.

A node's parameters are a pydantic model in the core library (names, types, defaults, ranges,
units and why, in one place, tested without ROS). This declares one ROS parameter per field
with a ParameterDescriptor carrying its type, range and description, as ros2_control's
generated parameter files do, so ``ros2 param describe`` says what each one means; then it
reads the values back and validates them with the model.

Field conventions: ``description`` says what it is, with its unit; ``ge``/``le`` (or
``gt``/``lt``) give the range. A list field with no natural default uses ``[""]`` (ROS cannot
infer the type of an empty list).
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any, TypeVar, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

Config = TypeVar("Config", bound=BaseModel)

_SCALARS: dict[type, int] = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
                             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
_ARRAYS: dict[type, int] = {bool: ParameterType.PARAMETER_BOOL_ARRAY, int: ParameterType.PARAMETER_INTEGER_ARRAY,
                            float: ParameterType.PARAMETER_DOUBLE_ARRAY, str: ParameterType.PARAMETER_STRING_ARRAY}
_INT64 = (-(2**63), 2**63 - 1)


class ParameterError(ValueError):
    """The parameters a node was started with do not fit its config model."""


def parameter_type(annotation: Any) -> tuple[int, type, bool]:
    """(ROS parameter type, Python element type, is a list) of a field's annotation."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"{annotation}: a ROS parameter has one type (no unions or Optional)")
    if origin is typing.Literal:
        element = type(get_args(annotation)[0])
        return _SCALARS[element], element, False
    if origin in (list, tuple):
        element = get_args(annotation)[0]
        return _ARRAYS[element], element, True
    if isinstance(annotation, type) and issubclass(annotation, str):   # str enums too
        return _SCALARS[str], str, False
    return _SCALARS[annotation], annotation, False


def descriptor(name: str, field: Any) -> ParameterDescriptor:
    kind, element, is_list = parameter_type(field.annotation)
    described = ParameterDescriptor(name=name, type=kind, description=field.description or "")
    low, high = -math.inf, math.inf
    for constraint in field.metadata:
        if isinstance(constraint, (annotated_types.Ge, annotated_types.Gt)):
            low = float(getattr(constraint, "ge", getattr(constraint, "gt", low)))
        if isinstance(constraint, (annotated_types.Le, annotated_types.Lt)):
            high = float(getattr(constraint, "le", getattr(constraint, "lt", high)))
    if not is_list and (low, high) != (-math.inf, math.inf):
        if element is float:
            described.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
        elif element is int:
            described.integer_range = [IntegerRange(from_value=int(max(low, _INT64[0])),
                                                    to_value=int(min(high, _INT64[1])), step=0)]
    return described


def ros_default(field: Any) -> Any:
    """The field's default as ROS takes it (float fields as floats, enums as their values)."""
    _, element, is_list = parameter_type(field.annotation)
    value = field.get_default(call_default_factory=True)
    if is_list:
        return [element(getattr(v, "value", v)) for v in value]
    return element(getattr(value, "value", value))


def declare_parameters(node: Node, model: type[Config], prefix: str = "") -> Config:
    """Declare every field of ``model`` on ``node``; the values the node was started with, validated.

    With a ``prefix`` each field is the parameter ``prefix.field``, as a parameters file nests
    a group (``timeouts: {generate_s: 300.0}``). Raises ParameterError naming every parameter
    that does not fit (the node's configure then fails with that message, rather than run with
    a value out of its range).
    """
    names = {(f"{prefix}.{name}" if prefix else name): name for name in model.model_fields}
    for full, name in names.items():
        if node.has_parameter(full):
            continue
        field = model.model_fields[name]
        try:
            node.declare_parameter(full, ros_default(field), descriptor(full, field))
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ParameterError(f"{node.get_name()} parameters: {full}: {exc}") from exc
    return read_parameters(node, model, prefix)


def read_parameters(node: Node, model: type[Config], prefix: str = "") -> Config:
    """The declared parameters' current values, validated (after a ``ros2 param set``, say)."""
    names = {(f"{prefix}.{name}" if prefix else name): name for name in model.model_fields}
    try:
        return model.model_validate({name: node.get_parameter(full).value for full, name in names.items()})
    except ValidationError as exc:
        where = f"{prefix}." if prefix else ""
        problems = "; ".join(f"{where}{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ParameterError(f"{node.get_name()} parameters: {problems}") from exc


def declare_parameter_group(node: Node, prefix: str, model: type[Config]) -> Config:
    """``declare_parameters`` for the group ``prefix``."""
    return declare_parameters(node, model, prefix)
