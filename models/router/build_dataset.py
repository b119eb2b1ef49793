"""Build the router's labelled prompts: a training set and a HELD-OUT set that share no phrasing.

Four default experts:
- robot_control: natural-language commands over the robot contract (move a joint by / to an
  angle, open / close / grasp, look, stop, describe the scene, say something);
- general: chit-chat and general-knowledge questions;
- python: programming questions built from the real standard library of the running Python
  (module names, function names, signatures and docstring summaries found with `inspect`);
- math: generated arithmetic and algebra, numbers in digits and in words.

Honest measurement needs more than a random split: every expert has two disjoint template
families (one per split), the entities the templates are filled with are split too (countries,
objects, names, ...), and the python questions come from disjoint sets of stdlib modules. A
held-out prompt therefore never shares its sentence pattern with a training prompt, and any
prompt that still collides with a training prompt (after normalising case and spaces) is
dropped from the held-out set.

    python models/router/build_dataset.py --out-dir models/router/data            # the committed set
    python models/router/build_dataset.py --out-dir /tmp/tiny --train-per-expert 20 --heldout-per-expert 10
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import random
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from num2words import num2words

SPLITS = ("train", "heldout")
EXPERTS = ("robot_control", "general", "python", "math")


@dataclass(frozen=True)
class BuildConfig:
    train_per_expert: int = 900
    heldout_per_expert: int = 250
    seed: int = 7


def pick(rng: random.Random, items: list[str] | tuple[str, ...]) -> str:
    return items[rng.randrange(len(items))]


def halves(items: list[str]) -> dict[str, list[str]]:
    """Split an entity list into two disjoint halves (even / odd positions), one per split."""
    return {"train": items[0::2], "heldout": items[1::2]}


def spoken_number(rng: random.Random, value: int | float, words_share: float = 0.4) -> str:
    """Digits or words ("35" / "thirty-five"): people and speech recognisers write both."""
    if rng.random() < words_share:
        return num2words(value)
    return str(value)


# ------------------------------------------------------------------------------------------
# robot_control
# ------------------------------------------------------------------------------------------

SIDES = {"l": ("left",), "r": ("right",)}
ARM_JOINT_WORDS = {
    "train": {
        "shoulder_pitch": ["shoulder", "shoulder pitch", "shoulder joint"],
        "shoulder_roll": ["shoulder roll", "arm sideways joint"],
        "elbow_pitch": ["elbow", "elbow pitch"],
        "wrist_roll": ["wrist", "wrist roll"],
    },
    "heldout": {
        "shoulder_pitch": ["upper arm", "shoulder_pitch joint"],
        "shoulder_roll": ["shoulder_roll", "arm out to the side joint"],
        "elbow_pitch": ["forearm", "elbow joint"],
        "wrist_roll": ["hand rotation", "wrist joint"],
    },
}
HEAD_JOINT_WORDS = {
    "train": {"head_pan": ["head", "head pan", "neck"], "head_tilt": ["head tilt", "head pitch"]},
    "heldout": {"head_pan": ["head_pan joint", "head yaw"], "head_tilt": ["head_tilt", "chin"]},
}
GRASPABLE = halves([
    "red cup", "ball", "blue block", "bottle", "screwdriver", "apple", "sponge", "marker",
    "toy car", "mug", "pen", "banana", "box", "green cube", "spoon", "remote control",
    "tennis ball", "phone", "book", "wooden block",
])
LOOK_TARGETS = halves(["door", "window", "person on the left", "table", "box", "ceiling",
                       "floor", "red cup", "my hand", "camera"])
DIRECTIONS = ("left", "right", "up", "down")
PHRASES = halves([
    "hello", "good morning", "I am ready", "welcome to the lab", "task complete", "nice to meet you",
    "please step back", "goodbye", "I found the cup", "the battery is fine", "thank you",
    "see you later", "hello world", "I am a robot", "watch out", "have a nice day",
    # social phrases: "say thank you" is a command even though "thank you" alone is chit-chat
    "happy birthday", "congratulations", "thank you very much", "good night", "well done",
    "welcome home", "sorry about that", "cheers", "good luck", "I love this song",
])
PEOPLE = halves(["Anna", "Bob", "the visitors", "Maria", "everyone", "Tom", "the team", "Li"])
ROBOT_FILLERS = {
    "train": ["", "", "", "please ", "robot, ", "hey robot, ", "now ", "okay, "],
    "heldout": ["", "", "", "um, ", "could you ", "hey buddy, ", "uh ", "right, so "],
}
ROBOT_ENDINGS = {"train": ["", "", " please", " now"], "heldout": ["", "", " thanks", " if you can", " real quick"]}


def _joint_phrase(rng: random.Random, split: str) -> str:
    if rng.random() < 0.25:
        return pick(rng, HEAD_JOINT_WORDS[split][pick(rng, ("head_pan", "head_tilt"))])
    side = pick(rng, ("left", "right"))
    words = pick(rng, ARM_JOINT_WORDS[split][pick(rng, tuple(ARM_JOINT_WORDS[split]))])
    return f"{side} {words}"


def _angle(rng: random.Random) -> str:
    return spoken_number(rng, rng.choice([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 70, 75, 80, 90, 12, 33]))


ROBOT_TEMPLATES: dict[str, list[Callable[[random.Random, str], str]]] = {
    "train": [
        lambda r, s: f"move the {_joint_phrase(r, s)} to {_angle(r)} degrees",
        lambda r, s: f"set your {_joint_phrase(r, s)} to {_angle(r)} degrees",
        lambda r, s: f"rotate the {_joint_phrase(r, s)} by {_angle(r)} degrees",
        lambda r, s: f"move your {_joint_phrase(r, s)} {_angle(r)} degrees",
        lambda r, s: f"raise your {pick(r, ('left', 'right'))} arm by {_angle(r)} degrees",
        lambda r, s: f"bend the {pick(r, ('left', 'right'))} elbow {_angle(r)} degrees",
        lambda r, s: f"turn your head {pick(r, ('left', 'right'))} by {_angle(r)} degrees",
        lambda r, s: f"open the {pick(r, ('left', 'right'))} gripper",
        lambda r, s: f"close your {pick(r, ('left', 'right'))} hand",
        lambda r, s: f"grasp the {pick(r, GRASPABLE[s])} with your {pick(r, ('left', 'right'))} hand",
        lambda r, s: f"grab the {pick(r, GRASPABLE[s])}",
        lambda r, s: f"look {pick(r, DIRECTIONS)}",
        lambda r, s: f"look at the {pick(r, LOOK_TARGETS[s])}",
        lambda r, s: f"turn your head to the {pick(r, ('left', 'right'))}",
        lambda r, s: pick(r, ["stop", "stop moving", "emergency stop", "halt", "stop right now", "stop all motors"]),
        lambda r, s: pick(r, ["describe the scene", "what do you see", "tell me what is in front of you",
                              "describe what the camera sees", "what objects are on the table"]),
        lambda r, s: f"say {pick(r, PHRASES[s])}",
        lambda r, s: f"say hello to {pick(r, PEOPLE[s])}",
        lambda r, s: f"tell {pick(r, PEOPLE[s])} {pick(r, PHRASES[s])}",
        lambda r, s: f"lower your {_joint_phrase(r, s)} by {_angle(r)} degrees",
        lambda r, s: f"tell everyone {pick(r, PHRASES[s])}",
        lambda r, s: f"say '{pick(r, PHRASES[s])}' to {pick(r, PEOPLE[s])}",
        lambda r, s: pick(r, ["describe your surroundings", "what can you see right now",
                              "tell me what you see on the table"]),
    ],
    "heldout": [
        lambda r, s: f"bring the {_joint_phrase(r, s)} over to {_angle(r)} degrees",
        lambda r, s: f"I need the {_joint_phrase(r, s)} at an angle of {_angle(r)}",
        lambda r, s: f"{_joint_phrase(r, s)} to {_angle(r)} deg",
        lambda r, s: f"nudge your {_joint_phrase(r, s)} {_angle(r)} degrees further",
        lambda r, s: f"swing the {_joint_phrase(r, s)} around by {_angle(r)} degrees",
        lambda r, s: f"lift the {pick(r, ('left', 'right'))} arm up {_angle(r)} degrees",
        lambda r, s: f"tilt your head {pick(r, ('up', 'down'))} {_angle(r)} degrees",
        lambda r, s: f"release whatever is in your {pick(r, ('left', 'right'))} hand",
        lambda r, s: f"let go with the {pick(r, ('left', 'right'))} claw",
        lambda r, s: f"pick up the {pick(r, GRASPABLE[s])} on the table",
        lambda r, s: f"clench your {pick(r, ('left', 'right'))} fist",
        lambda r, s: f"take hold of the {pick(r, GRASPABLE[s])}",
        lambda r, s: f"glance over to the {pick(r, ('left', 'right'))}",
        lambda r, s: f"face {pick(r, DIRECTIONS)}",
        lambda r, s: f"point your camera at the {pick(r, LOOK_TARGETS[s])}",
        lambda r, s: pick(r, ["freeze", "cease all motion", "whoa, hold it", "kill the motors",
                              "abort the movement", "don't move any more"]),
        lambda r, s: pick(r, ["what's in front of your camera right now", "give me a rundown of your surroundings",
                              "report what you can see", "anything on the table in front of you",
                              "list the objects you can see"]),
        lambda r, s: f"speak the words {pick(r, PHRASES[s])}",
        lambda r, s: f"announce {pick(r, PHRASES[s])} out loud",
        lambda r, s: f"please greet {pick(r, PEOPLE[s])}",
    ],
}


def robot_control_prompts(rng: random.Random, split: str) -> Iterator[str]:
    while True:
        body = pick(rng, ROBOT_TEMPLATES[split])(rng, split)
        yield f"{pick(rng, ROBOT_FILLERS[split])}{body}{pick(rng, ROBOT_ENDINGS[split])}"


# ------------------------------------------------------------------------------------------
# general
# ------------------------------------------------------------------------------------------

COUNTRIES = halves([
    "France", "Japan", "Brazil", "Canada", "Kenya", "Germany", "India", "Mexico", "Egypt", "Norway",
    "Australia", "Argentina", "Italy", "Vietnam", "Spain", "Peru", "Sweden", "Nigeria", "Chile", "Poland",
    "Thailand", "Greece", "Turkey", "Portugal", "Ireland", "Morocco", "Iceland", "Finland",
])
AUTHORS_WORKS = halves([
    "Hamlet", "Pride and Prejudice", "War and Peace", "Don Quixote", "Moby Dick", "The Odyssey",
    "1984", "Beowulf", "Frankenstein", "Dracula", "Les Miserables", "The Great Gatsby",
    "Crime and Punishment", "Ulysses", "The Hobbit", "Jane Eyre", "Faust", "Anna Karenina",
])
EVERYDAY_THINGS = halves([
    "a rainbow", "a refrigerator", "the internet", "a vaccine", "a microwave oven", "photosynthesis",
    "an airplane", "the moon's phases", "a compass", "a solar panel", "the tides", "an earthquake",
    "a bicycle gear", "a thunderstorm", "the immune system", "a volcano", "a telescope", "bread yeast",
    "coffee", "a hurricane", "a light bulb", "the stock market",
])
TOPICS = halves([
    "the Roman Empire", "climate change", "jazz music", "the French Revolution", "ancient Egypt",
    "the Renaissance", "dinosaurs", "the Olympic Games", "black holes", "the Silk Road",
    "impressionist painting", "the printing press", "the Cold War", "honey bees", "the Vikings",
    "quantum physics in simple words", "the history of chess", "coral reefs", "the Beatles", "the Maya",
])
ANIMALS = halves(["dolphin", "penguin", "bat", "octopus", "elephant", "owl", "shark", "koala",
                  "giraffe", "frog", "whale", "cheetah", "ant", "horse", "crow", "turtle"])
HOBBIES = halves(["cooking", "gardening", "hiking", "painting", "reading", "chess", "photography",
                  "football", "knitting", "running", "travel", "music", "board games", "yoga"])
MOODS = halves(["happy", "tired", "bored", "excited", "sad", "stressed", "great", "lonely", "nervous", "calm"])
LANDMARKS = halves(["the Eiffel Tower", "Mount Everest", "the Great Wall of China", "the Statue of Liberty",
                    "Big Ben", "the Colosseum", "the pyramids of Giza", "the Golden Gate Bridge",
                    "Machu Picchu", "the Taj Mahal", "Niagara Falls", "Stonehenge"])

GENERAL_TEMPLATES: dict[str, list[Callable[[random.Random, str], str]]] = {
    "train": [
        lambda r, s: f"what is the capital of {pick(r, COUNTRIES[s])}",
        lambda r, s: f"who wrote {pick(r, AUTHORS_WORKS[s])}",
        lambda r, s: f"how does {pick(r, EVERYDAY_THINGS[s])} work",
        lambda r, s: f"tell me about {pick(r, TOPICS[s])}",
        lambda r, s: f"why do {pick(r, ANIMALS[s])}s live where they do",
        lambda r, s: f"what do {pick(r, ANIMALS[s])}s eat",
        lambda r, s: f"I'm feeling {pick(r, MOODS[s])} today",
        lambda r, s: f"do you like {pick(r, HOBBIES[s])}",
        lambda r, s: f"what do you think about {pick(r, HOBBIES[s])}",
        lambda r, s: f"where is {pick(r, LANDMARKS[s])}",
        lambda r, s: pick(r, ["how are you today", "tell me a joke", "what's your name", "good morning",
                              "thank you so much", "who are you", "nice to meet you", "how was your day",
                              "what is the meaning of life", "why is the sky blue", "can we be friends",
                              "what's the best movie of all time", "do you dream", "what time is it in Tokyo"]),
        lambda r, s: f"what language do people speak in {pick(r, COUNTRIES[s])}",
        lambda r, s: f"what is {pick(r, TOPICS[s])} known for",
        lambda r, s: f"give me some tips for {pick(r, HOBBIES[s])}",
        lambda r, s: f"what is the history of {pick(r, TOPICS[s])}",
        lambda r, s: f"why are {pick(r, ANIMALS[s])}s so interesting",
        lambda r, s: f"what's a good book about {pick(r, TOPICS[s])}",
        lambda r, s: f"have you ever heard of {pick(r, LANDMARKS[s])}",
    ],
    "heldout": [
        lambda r, s: f"roughly how many people live in {pick(r, COUNTRIES[s])}",
        lambda r, s: f"is {pick(r, AUTHORS_WORKS[s])} worth reading",
        lambda r, s: f"explain {pick(r, EVERYDAY_THINGS[s])} to a ten year old",
        lambda r, s: f"what's a fun fact about {pick(r, TOPICS[s])}",
        lambda r, s: f"is the {pick(r, ANIMALS[s])} a mammal",
        lambda r, s: f"how long does a {pick(r, ANIMALS[s])} live",
        lambda r, s: f"honestly I've been pretty {pick(r, MOODS[s])} lately",
        lambda r, s: f"I want to get into {pick(r, HOBBIES[s])}, where do I start",
        lambda r, s: f"how tall is {pick(r, LANDMARKS[s])}",
        lambda r, s: f"what's the food like in {pick(r, COUNTRIES[s])}",
        lambda r, s: pick(r, ["good night, see you tomorrow", "I had a rough day at work", "what's your favourite colour",
                              "can you recommend a good podcast", "do you have any hobbies", "I'm back!",
                              "what should I cook for dinner", "who was the first person on the moon",
                              "why do we have leap years", "what's the difference between weather and climate",
                              "any ideas for a birthday present for my mum", "which is bigger, the sun or the earth"]),
        lambda r, s: f"when was {pick(r, LANDMARKS[s])} built",
        lambda r, s: f"summarise {pick(r, TOPICS[s])} in two sentences",
        lambda r, s: f"what's the weather usually like in {pick(r, COUNTRIES[s])} in winter",
    ],
}


GENERAL_OPENERS = {
    "train": ["", "", "", "hey, ", "quick question: ", "so ", "tell me, ", "ok "],
    "heldout": ["", "", "", "hi! ", "random question - ", "I was wondering, ", "out of curiosity, "],
}


def general_prompts(rng: random.Random, split: str) -> Iterator[str]:
    while True:
        prompt = pick(rng, GENERAL_OPENERS[split]) + pick(rng, GENERAL_TEMPLATES[split])(rng, split)
        yield prompt + ("?" if rng.random() < 0.5 and not prompt.endswith("!") else "")


# ------------------------------------------------------------------------------------------
# python: questions from the real standard library of this interpreter
# ------------------------------------------------------------------------------------------

# Modules whose import has side effects (opens a browser, prints, starts a GUI) or is slow.
SKIPPED_MODULES = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "__hello__",
                   "__phello__", "pydoc_data", "lib2to3", "test", "ensurepip", "venv", "xxlimited",
                   "xxlimited_35", "xxsubtype", "_xxtestfuzz", "msilib", "winreg", "winsound", "msvcrt",
                   "nturl2path", "idle", "crypt", "nis", "spwd", "ossaudiodev", "sre_compile",
                   "sre_constants", "sre_parse", "tkinter.tix"}


# Docstring summaries that start with one of these verbs read as a task ("return the base name
# of pathname p"): they can fill "how can I ...?" templates. Others ("Base class for ...") cannot.
TASK_VERBS = {
    "return", "get", "set", "convert", "create", "decode", "encode", "read", "write", "parse", "run",
    "open", "close", "execute", "change", "copy", "add", "perform", "split", "remove", "call",
    "generate", "find", "print", "clear", "format", "wait", "compare", "compute", "normalize", "check",
    "expand", "compile", "dump", "determine", "extract", "compress", "decompress", "define", "make",
    "build", "load", "register", "join", "send", "receive", "sort", "search", "test", "update",
    "calculate", "replace", "delete", "insert", "apply", "translate", "escape", "quote", "unquote",
}


@dataclass(frozen=True)
class ApiEntry:
    """One documented public callable of the standard library."""

    module: str
    name: str
    task: str         # the docstring summary as a task ("return the base name of pathname p"), or ""
    signature: str    # "(path, *paths)" or "" when inspect cannot tell


def stdlib_api() -> list[ApiEntry]:
    """Every public function / class of the public stdlib modules that has a docstring."""
    entries: list[ApiEntry] = []
    for module_name in sorted(sys.stdlib_module_names):
        if module_name.startswith("_") or module_name in SKIPPED_MODULES:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(module_name)
        except Exception:  # platform-specific modules (e.g. Windows-only) do not import here
            continue
        for name, member in sorted(vars(module).items()):
            if name.startswith("_") or getattr(member, "__module__", None) != module_name:
                continue
            if not (inspect.isfunction(member) or inspect.isclass(member) or inspect.isbuiltin(member)):
                continue
            doc = inspect.getdoc(member)
            if doc:
                entries.append(ApiEntry(module_name, name, docstring_task(doc), _signature(member)))
    return entries


def docstring_task(doc: str) -> str:
    """'Return the base name of pathname p.' -> 'return the base name of pathname p';
    'Returns a list...' -> 'return a list...'; '' when the summary is not a task."""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    first = re.split(r"(?<=[a-z0-9)])\. ", first)[0].rstrip(". ")
    words = first.split()
    if not 3 <= len(words) <= 20:
        return ""
    verb = words[0].lower()
    if verb not in TASK_VERBS and verb.endswith("s") and verb[:-1] in TASK_VERBS:
        verb = verb[:-1]  # third person ("Returns") to imperative
    if verb not in TASK_VERBS:
        return ""
    return " ".join([verb] + words[1:])


def _signature(member: object) -> str:
    try:
        return str(inspect.signature(member))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def split_modules(entries: list[ApiEntry]) -> dict[str, list[ApiEntry]]:
    """Disjoint module sets per split (alternate modules in name order), so a held-out
    question never asks about a module the gate saw in training."""
    modules = sorted({e.module for e in entries})
    heldout = set(modules[1::3])  # a third of the modules for the held-out set
    return {
        "train": [e for e in entries if e.module not in heldout],
        "heldout": [e for e in entries if e.module in heldout],
    }


EXCEPTIONS = halves(["TypeError", "ValueError", "KeyError", "AttributeError", "IndexError",
                     "OSError", "RuntimeError", "ImportError", "NameError", "UnicodeDecodeError"])

ApiTemplate = Callable[[random.Random, ApiEntry, str], str]
# Templates naming the API (any entry) ...
PYTHON_NAME_TEMPLATES: dict[str, list[ApiTemplate]] = {
    "train": [
        lambda r, e, s: f"How do I use {e.module}.{e.name} in Python?",
        lambda r, e, s: f"What does {e.name}() in the {e.module} module do?",
        lambda r, e, s: f"Write a Python function that uses {e.module}.{e.name}",
        lambda r, e, s: f"Why does {e.module}.{e.name} raise {pick(r, EXCEPTIONS[s])}?",
        lambda r, e, s: f"What arguments does {e.module}.{e.name}{e.signature} take?",
        lambda r, e, s: f"what does `{e.name}` return in python's {e.module}",
    ],
    "heldout": [
        lambda r, e, s: f"Explain {e.module}.{e.name} with an example",
        lambda r, e, s: f"my script calls {e.name} from {e.module} and gets a {pick(r, EXCEPTIONS[s])}, what am I doing wrong",
        lambda r, e, s: f"show me a snippet using {e.module}'s {e.name}",
        lambda r, e, s: f"from {e.module} import {e.name} - then {e.name}{e.signature}, how does that work",
    ],
}
# ... and templates asking for the task its docstring describes (entries with a task only).
PYTHON_TASK_TEMPLATES: dict[str, list[ApiTemplate]] = {
    "train": [
        lambda r, e, s: f"Python: how can I {e.task}?",
        lambda r, e, s: f"how to {e.task} in python",
    ],
    "heldout": [
        lambda r, e, s: f"In Python, what's the way to {e.task}?",
        lambda r, e, s: f"is there a standard library helper to {e.task}",
        lambda r, e, s: f"code review: is {e.module}.{e.name} the right tool to {e.task}",
    ],
}


def python_prompts(rng: random.Random, split: str, api: dict[str, list[ApiEntry]]) -> Iterator[str]:
    entries = api[split]
    with_task = [e for e in entries if e.task]
    while True:
        if with_task and rng.random() < 0.4:
            entry, template = with_task[rng.randrange(len(with_task))], pick(rng, PYTHON_TASK_TEMPLATES[split])
        else:
            entry, template = entries[rng.randrange(len(entries))], pick(rng, PYTHON_NAME_TEMPLATES[split])
        yield template(rng, entry, split)


# ------------------------------------------------------------------------------------------
# math
# ------------------------------------------------------------------------------------------


def _n(r: random.Random, low: int = 2, high: int = 99) -> str:
    return spoken_number(r, r.randint(low, high))


MATH_TEMPLATES: dict[str, list[Callable[[random.Random], str]]] = {
    "train": [
        lambda r: f"what is {_n(r)} plus {_n(r)}",
        lambda r: f"calculate {_n(r)} times {_n(r)}",
        lambda r: f"what is {_n(r, 10, 999)} divided by {_n(r, 2, 12)}",
        lambda r: f"solve {r.randint(2, 9)}x + {r.randint(1, 30)} = {r.randint(31, 99)}",
        lambda r: f"what is {_n(r, 5, 50)} percent of {_n(r, 20, 500)}",
        lambda r: f"what is the square root of {spoken_number(r, r.randint(2, 30) ** 2)}",
        lambda r: f"simplify {r.randint(2, 9)}x + {r.randint(2, 9)}x - {r.randint(1, 5)}",
        lambda r: f"subtract {_n(r)} from {_n(r, 100, 900)}",
        lambda r: f"{r.randint(2, 999)} * {r.randint(2, 99)} = ?",
        lambda r: f"what is {_n(r, 2, 12)} to the power of {_n(r, 2, 5)}",
        lambda r: f"find the derivative of {r.randint(2, 9)}x^{r.randint(2, 5)}",
        lambda r: f"add {_n(r)} and {_n(r)} then multiply by {_n(r, 2, 9)}",
    ],
    "heldout": [
        lambda r: f"if I have {_n(r, 10, 60)} apples and give away {_n(r, 1, 9)}, how many are left",
        lambda r: f"find x when {r.randint(2, 9)}x - {r.randint(1, 30)} = {r.randint(31, 99)}",
        lambda r: f"compute ({r.randint(2, 50)} + {r.randint(2, 50)}) * {r.randint(2, 9)}",
        lambda r: f"what's {_n(r, 2, 40)} squared",
        lambda r: f"how much is {_n(r, 100, 900)} minus {_n(r)}",
        lambda r: f"evaluate {r.randint(1, 99)}/{r.randint(2, 16)} as a decimal",
        lambda r: f"what's the product of {_n(r)} and {_n(r)}",
        lambda r: f"is {spoken_number(r, r.randint(20, 400))} a prime number",
        lambda r: f"expand (x + {r.randint(1, 9)})(x - {r.randint(1, 9)})",
        lambda r: f"factor x^2 + {r.randint(3, 15)}x + {r.randint(2, 30)}",
        lambda r: f"what is the average of {_n(r)}, {_n(r)} and {_n(r)}",
        lambda r: f"a train travels {_n(r, 50, 300)} km in {_n(r, 2, 5)} hours, what is its speed",
    ],
}


def math_prompts(rng: random.Random, split: str) -> Iterator[str]:
    while True:
        yield pick(rng, MATH_TEMPLATES[split])(rng)


# ------------------------------------------------------------------------------------------
# assembly
# ------------------------------------------------------------------------------------------


def normalise(prompt: str) -> str:
    return " ".join(prompt.lower().split())


def take_unique(prompts: Iterator[str], count: int, exclude: set[str], max_tries_factor: int = 50) -> list[str]:
    """`count` distinct prompts not in `exclude` (fewer if the templates run dry)."""
    chosen: list[str] = []
    seen = set(exclude)
    for _ in range(count * max_tries_factor):
        if len(chosen) == count:
            break
        prompt = next(prompts)
        key = normalise(prompt)
        if key not in seen:
            seen.add(key)
            chosen.append(prompt)
    return chosen


def build(config: BuildConfig) -> dict[str, list[dict[str, str]]]:
    """{"train": [...], "heldout": [...]} rows of {"prompt", "expert"}."""
    api = split_modules(stdlib_api())
    generators: dict[str, Callable[[random.Random, str], Iterator[str]]] = {
        "robot_control": robot_control_prompts,
        "general": general_prompts,
        "python": lambda rng, split: python_prompts(rng, split, api),
        "math": math_prompts,
    }
    counts = {"train": config.train_per_expert, "heldout": config.heldout_per_expert}
    result: dict[str, list[dict[str, str]]] = {}
    train_keys: set[str] = set()
    for split in SPLITS:  # train first: held-out prompts must not collide with it
        rows = []
        for index, expert in enumerate(EXPERTS):
            rng = random.Random(f"{config.seed}/{split}/{expert}")
            exclude = train_keys if split == "heldout" else set()
            for prompt in take_unique(generators[expert](rng, split), counts[split], exclude):
                rows.append({"prompt": prompt, "expert": expert})
        random.Random(f"{config.seed}/{split}/order").shuffle(rows)
        if split == "train":
            train_keys = {normalise(row["prompt"]) for row in rows}
        result[split] = rows
    return result


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--train-per-expert", type=int, default=BuildConfig.train_per_expert)
    parser.add_argument("--heldout-per-expert", type=int, default=BuildConfig.heldout_per_expert)
    parser.add_argument("--seed", type=int, default=BuildConfig.seed)
    args = parser.parse_args(argv)
    config = BuildConfig(args.train_per_expert, args.heldout_per_expert, args.seed)
    splits = build(config)
    for split, rows in splits.items():
        write_jsonl(args.out_dir / f"{split}.jsonl", rows)
        per_expert = dict(sorted(Counter(row["expert"] for row in rows).items()))
        print(f"{split}: {len(rows)} prompts {per_expert} -> {args.out_dir / f'{split}.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
