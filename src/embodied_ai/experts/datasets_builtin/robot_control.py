"""Dataset builder of the robot_control expert: spoken-style commands → one JSON action.

Every intent has phrasing templates (verbs and sentence frames) with slots for the side, the
angle and the text to say. Training and held-out sentences share the templates' vocabulary —
a verb the model never saw ("extend" meaning a negative elbow angle) cannot be learnt from
nothing — but never a sentence: held-out sentences always carry filler words or endings that
training never uses ("um", "would you kindly", "if you can", ...), the texts to say differ
(so the model must copy the words, not recall a list), numbers are spoken as words or digits
at random, and any held-out prompt that equals a training prompt is dropped. A relative
move's target names its direction in words (``robot_actions.expert_text``).
The prompt the model sees is the normalised text (``normalize_command_text``: number words →
digits, lower case, no punctuation), exactly what the commander hands it at run time.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from embodied_ai.experts.robot_actions import (
    Close,
    Describe,
    GraspObject,
    Look,
    Move,
    MoveBy,
    Open,
    Say,
    Stop,
    Unknown,
    expert_text,
)
from embodied_ai.speech.normalize import normalize_command_text

SIDES = {"r": "right", "l": "left"}

TRAIN_FILLERS = ["", "", "", "please ", "can you ", "could you ", "now ", "okay ", "robot ", "hey robot ",
                 "so ", "alright "]
TRAIN_SUFFIXES = ["", "", "", " please", " now", " for me", " thanks"]
HELD_OUT_FILLERS = ["um ", "uh ", "would you kindly ", "i want you to ", "go ahead and ", "hmm "]
HELD_OUT_SUFFIXES = [" if you can", " right away", " okay", " thank you"]

# (template, direction word of robot_actions.DIRECTION_WORDS): {side} {n} placeholders.
JOINT_BY_TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "shoulder_pitch": [
        ("raise your {side} arm by {n} degrees", "up"),
        ("lift the {side} arm {n} degrees", "up"),
        ("lower your {side} arm by {n} degrees", "down"),
        ("raise the {side} shoulder by {n} degrees", "up"),
        ("put your {side} arm down by {n} degrees", "down"),
        ("move your {side} arm up {n} degrees", "up"),
        ("bring the {side} arm down {n} degrees", "down"),
        ("lift your {side} shoulder {n} degrees", "up"),
    ],
    "shoulder_roll": [
        ("swing your {side} arm out by {n} degrees", "out"),
        ("move the {side} arm outward {n} degrees", "out"),
        ("bring your {side} arm in by {n} degrees", "in"),
        ("spread your {side} arm out {n} degrees", "out"),
        ("pull the {side} arm inward by {n} degrees", "in"),
        ("open your {side} arm sideways {n} degrees", "out"),
    ],
    "elbow_pitch": [
        ("bend your {side} elbow by {n} degrees", "bend"),
        ("straighten the {side} elbow by {n} degrees", "straighten"),
        ("flex your {side} elbow {n} degrees", "bend"),
        ("extend your {side} elbow by {n} degrees", "straighten"),
        ("bend the {side} arm at the elbow {n} degrees", "bend"),
        ("unbend your {side} elbow {n} degrees", "straighten"),
    ],
    "wrist_roll": [
        ("rotate your {side} wrist by {n} degrees", "counterclockwise"),
        ("turn the {side} wrist clockwise {n} degrees", "clockwise"),
        ("twist your {side} wrist {n} degrees", "counterclockwise"),
        ("turn your {side} wrist counterclockwise by {n} degrees", "counterclockwise"),
        ("rotate the {side} wrist clockwise by {n} degrees", "clockwise"),
        ("roll your {side} wrist by {n} degrees", "counterclockwise"),
    ],
}
HEAD_BY_TEMPLATES: list[tuple[str, str, str]] = [
    ("turn your head left by {n} degrees", "head_pan", "left"),
    ("turn your head right by {n} degrees", "head_pan", "right"),
    ("tilt your head down by {n} degrees", "head_tilt", "down"),
    ("tilt your head up by {n} degrees", "head_tilt", "up"),
    ("pan the head left {n} degrees", "head_pan", "left"),
    ("pan your head to the right {n} degrees", "head_pan", "right"),
    ("nod your head down {n} degrees", "head_tilt", "down"),
    ("tilt the head upward {n} degrees", "head_tilt", "up"),
    ("rotate your head to the left by {n} degrees", "head_pan", "left"),
    ("rotate the head right {n} degrees", "head_pan", "right"),
    ("lift your head by {n} degrees", "head_tilt", "up"),
    ("lower your head {n} degrees", "head_tilt", "down"),
    ("bow your head by {n} degrees", "head_tilt", "down"),
    ("turn your head up {n} degrees", "head_tilt", "up"),
]
JOINT_WORDS = {"shoulder_pitch": ["{side} shoulder", "{side} shoulder pitch"],
               "shoulder_roll": ["{side} shoulder roll"],
               "elbow_pitch": ["{side} elbow"], "wrist_roll": ["{side} wrist"],
               "head_pan": ["head pan"], "head_tilt": ["head tilt"]}
TO_TEMPLATES = ["set the {joint} to {n} degrees", "move your {joint} to {n} degrees", "put the {joint} at {n} degrees",
                "{joint} to {n} degrees", "position your {joint} at {n} degrees", "bring the {joint} to {n} degrees",
                "set your {joint} angle to {n} degrees", "go to {n} degrees with the {joint}"]
OPEN_TEMPLATES = ["open your {side} hand", "open the {side} gripper", "release with your {side} hand",
                  "let go with the {side} hand", "open {side} hand", "relax your {side} hand",
                  "unclench your {side} fist", "open the {side} claw"]
CLOSE_TEMPLATES = ["close your {side} hand", "close the {side} gripper", "make a fist with your {side} hand",
                   "shut the {side} gripper", "close {side} hand", "clench your {side} hand", "close the {side} claw",
                   "squeeze your {side} hand shut"]
GRASP_TEMPLATES = ["grab the cube with your {side} hand", "grasp the object in your {side} hand",
                   "pick it up with the {side} hand", "hold the ball with your {side} hand",
                   "grip the cup with your {side} gripper", "take the block in your {side} hand",
                   "seize the bottle with the {side} hand", "catch hold of it with your {side} hand"]
# Without a side the right hand is meant (the robot's default hand).
SIDELESS = {"open": ["open your hand", "open the gripper", "let go"],
            "close": ["close your hand", "close the gripper", "make a fist"],
            "grasp": ["grab it", "pick up the cube", "grasp the ball", "hold this"]}
LOOK_TEMPLATES = {"left": ["look left", "look to your left", "look to the left side", "glance left"],
                  "right": ["look right", "look to your right", "look to the right side", "glance right"],
                  "up": ["look up", "look upward", "look at the ceiling", "glance up"],
                  "down": ["look down", "look at the floor", "look downward", "glance down"],
                  "center": ["look straight ahead", "look forward", "center your head", "face forward"]}
STOP_TEMPLATES = ["stop", "stop moving", "halt", "freeze", "emergency stop", "stop everything", "stop right there",
                  "cease all motion", "hold still", "stop now"]
DESCRIBE_TEMPLATES = ["what do you see", "describe the scene", "tell me what is in front of you",
                      "what is around you", "describe what you see", "what can you see",
                      "look around and tell me what is there", "describe your surroundings"]
SAY_TEMPLATES = ["say {text}", "tell them {text}", "speak the words {text}", "repeat after me {text}",
                 "please say {text}", "announce {text}", "say out loud {text}", "tell everyone {text}"]
# Texts to say: the training texts are fixed phrases plus every subject × predicate, so that
# copying is the only way to get them right; the held-out texts appear in no training row.
_SAY_PHRASES = ["hello", "good morning", "i am a robot", "nice to meet you", "thank you very much", "welcome home",
                "have a nice day", "see you later", "i can help you", "watch out", "hello world", "happy birthday",
                "let us begin", "good luck", "sorry about that", "follow me please", "i will be right back",
                "what a lovely day", "time to go", "please be careful"]
_SAY_SUBJECTS = ["the cube", "the door", "dinner", "the kitchen", "my battery", "the ball", "your package",
                 "the meeting", "the light", "the water", "the red block", "the garden", "my task"]
_SAY_PREDICATES = ["is red", "is open", "is ready", "is clean", "is low", "is here", "is on the table",
                   "starts now", "is green", "is too hot", "is finished", "was moved", "looks great"]
SAY_TEXTS = {
    "train": _SAY_PHRASES + [f"{s} {p}" for s in _SAY_SUBJECTS for p in _SAY_PREDICATES],
    "held_out": ["good evening everyone", "the window is closed", "please wait here", "i found your keys",
                 "the blue box is empty", "welcome to the lab", "the floor is wet", "goodbye for now",
                 "the printer is jammed", "coffee time"],
}
UNKNOWN_TEMPLATES = ["fly to the moon", "make me a sandwich", "jump up and down", "drive forward 2 meters",
                     "move your left leg", "turn on the lights", "dance for me", "kick the ball", "walk to the kitchen",
                     "swim across the pool", "cook dinner", "wag your tail", "climb the stairs", "bake a cake",
                     "sing the national anthem loudly", "order a pizza", "run around the room", "sit down on the chair",
                     "take off your shoes", "wiggle your toes", "blink your eyes", "drive the car home",
                     "vacuum the floor", "open the window"]
NUMBER_WORDS = {5: "five", 10: "ten", 12: "twelve", 15: "fifteen", 20: "twenty", 25: "twenty five", 30: "thirty",
                35: "thirty-five", 40: "forty", 45: "forty five", 50: "fifty", 60: "sixty", 70: "seventy",
                75: "seventy five", 80: "eighty", 90: "ninety", 100: "one hundred", 120: "a hundred and twenty",
                180: "one hundred eighty", 360: "three hundred sixty", 500: "five hundred"}


CATEGORY_WEIGHTS = {"move_by": 5, "move_to": 3, "open": 1, "close": 1, "grasp": 1, "look": 1, "stop": 1,
                    "describe": 1, "say": 1.5, "unknown": 1.5}


# A function of a template's angle (if it has one) -> the action it means.
MakeAction = Callable[..., Any]
Intent = tuple[str, dict[str, object], MakeAction]  # (template, slot values, its action)


def _category(template: str, make: MakeAction) -> str:
    """The kind of action a template makes: templates with an angle make moves."""
    if "{n}" in template:
        return f"move_{make(10).mode}"
    return str(make().action)


@dataclass(frozen=True)
class Example:
    text: str          # as a person would say or type it
    prompt: str        # what the model sees (normalised)
    completion: str    # the compact JSON action

    def to_json(self) -> str:
        return json.dumps({"text": self.text, "prompt": self.prompt, "completion": self.completion})


def _number(rng: random.Random, value: int) -> str:
    return NUMBER_WORDS[value] if value in NUMBER_WORDS and rng.random() < 0.5 else str(value)


def _move_by(joint: str, direction: str, degrees: int) -> Move:
    """The contract's signed move for "<direction> by <degrees>" (the sign is the joint's)."""
    return MoveBy(action="move", joint=joint, mode="by", direction=direction, degrees=degrees).resolved()


def _intents(held_out: bool) -> Iterator[Intent]:
    """(template, slot values, a function of the slot values → action) for every intent."""
    for part, by_templates in JOINT_BY_TEMPLATES.items():
        for template, direction in by_templates:
            for side in SIDES:
                yield template, {"side": SIDES[side]}, partial(_move_by, f"{part}_{side}", direction)
    for template, joint, direction in HEAD_BY_TEMPLATES:
        yield template, {}, partial(_move_by, joint, direction)
    for template in TO_TEMPLATES:
        for part, words in JOINT_WORDS.items():
            sides = [""] if part.startswith("head") else list(SIDES)
            for side in sides:
                joint = part if not side else f"{part}_{side}"
                for word in words:
                    yield template.replace("{joint}", word), {"side": SIDES.get(side, "")}, (
                        lambda n, joint=joint: Move(action="move", joint=joint, mode="to", degrees=n))
    for cls, templates, verb in ((Open, OPEN_TEMPLATES, "open"), (Close, CLOSE_TEMPLATES, "close"),
                                 (GraspObject, GRASP_TEMPLATES, "grasp")):
        for template in templates:
            for side in SIDES:
                yield template, {"side": SIDES[side]}, (
                    lambda cls=cls, side=side, verb=verb: cls(action=verb, side=side))
        for template in SIDELESS[verb]:
            yield template, {}, (lambda cls=cls, verb=verb: cls(action=verb, side="r"))
    for direction, templates in LOOK_TEMPLATES.items():
        for template in templates:
            yield template, {}, (lambda d=direction: Look(action="look", direction=d))
    for template in STOP_TEMPLATES:
        yield template, {}, (lambda: Stop(action="stop"))
    for template in DESCRIBE_TEMPLATES:
        yield template, {}, (lambda: Describe(action="describe"))
    for template in SAY_TEMPLATES:
        for text in SAY_TEXTS["held_out" if held_out else "train"]:
            yield template, {"text": text}, (lambda text=text: Say(action="say", text=text))
    for template in UNKNOWN_TEMPLATES:
        yield template, {}, (lambda: Unknown(action="unknown"))


def build_examples(held_out: bool, count: int, seed: int) -> list[Example]:
    """``count`` examples drawn evenly over the intents' templates of one split."""
    rng = random.Random(seed)
    # Draw the kind of action first (by CATEGORY_WEIGHTS), then a phrasing of it, so that
    # intents with many templates (say × texts) do not crowd out the rest.
    by_category: dict[str, list[Intent]] = {}
    for template, slots, make in _intents(held_out):
        by_category.setdefault(_category(template, make), []).append((template, slots, make))
    categories = list(by_category)
    weights = [CATEGORY_WEIGHTS[c] for c in categories]
    fillers = HELD_OUT_FILLERS if held_out else TRAIN_FILLERS
    suffixes = HELD_OUT_SUFFIXES if held_out else TRAIN_SUFFIXES
    angles = sorted(NUMBER_WORDS) + [7, 18, 22, 33, 55, 65, 85, 110, 135, 150]
    examples: list[Example] = []
    seen: set[str] = set()
    attempts = 0
    while len(examples) < count and attempts < count * 20:
        attempts += 1
        category = rng.choices(categories, weights)[0]
        template, slots, make = rng.choice(by_category[category])
        action: BaseModel
        if "{n}" in template:
            value = rng.choice(angles)
            if "to {n}" in template or "at {n}" in template:
                value = rng.choice([v for v in angles if v <= 180])
                spoken = _number(rng, value)
                if rng.random() < 0.2:  # a negative absolute angle
                    value, spoken = -value, f"minus {spoken}"
            else:
                spoken = _number(rng, value)
            sentence = template.format(n=spoken, **slots)
            action = make(value)
        else:
            sentence = template.format(**slots) if slots else template
            action = make()
        filler = rng.choice(fillers) if rng.random() < 0.6 else ""
        suffix = rng.choice(suffixes) if rng.random() < 0.4 else ""
        if held_out and not filler and not suffix:
            # A held-out sentence always has words training never uses.
            filler = rng.choice(fillers)
        text = f"{filler}{sentence}{suffix}"
        if rng.random() < 0.3:
            text = text[0].upper() + text[1:] + rng.choice([".", "!", ""])
        prompt = normalize_command_text(text)
        if prompt in seen:
            continue
        seen.add(prompt)
        examples.append(Example(text, prompt, expert_text(action)))
    return examples


def write_dataset(out_dir: Path, train_count: int = 2000, held_out_count: int = 120, seed: int = 0) -> dict[str, Path]:
    """Write train.jsonl and held_out.jsonl; the same arguments always give the same files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"train": out_dir / "train.jsonl", "held_out": out_dir / "held_out.jsonl"}
    train = build_examples(False, train_count, seed)
    train_prompts = {e.prompt for e in train}
    # Held-out templates differ from training ones; drop any sentence that still coincides.
    held_out = [e for e in build_examples(True, held_out_count, seed + 1) if e.prompt not in train_prompts]
    for split, examples in (("train", train), ("held_out", held_out)):
        paths[split].write_text("".join(e.to_json() + "\n" for e in examples))
    return paths
