"""The vision API's scene summary: brightness, the objects' layout by thirds, and the sentence."""

from __future__ import annotations

import numpy as np

from embodied_ai.perception.scene_analysis import BoxedObject, lighting, summarize_scene


def test_objects_are_placed_by_the_third_their_centre_is_in_left_to_right() -> None:
    image = np.full((120, 300, 3), 230, np.uint8)
    objects = [BoxedObject("can", 0.8, (220.0, 10.0, 290.0, 60.0)),
               BoxedObject("cup", 0.9, (10.0, 10.0, 60.0, 60.0), object_id=3),
               BoxedObject("ball", 0.7, (90.0, 10.0, 130.0, 60.0)),      # centre x 110: the middle third
               BoxedObject("cube", 0.6, (0.0, 10.0, 200.0, 60.0))]       # centre x 100: exactly the boundary
    summary = summarize_scene(image, objects)
    assert summary.layout == {"left": ["cup"], "centre": ["cube", "ball"], "right": ["can"]}
    assert summary.description.startswith("I see 4 objects (1 ball, 1 can, 1 cube, and 1 cup): ")
    assert "a cup (object 3)" in summary.description
    assert summary.brightness == round(230 / 255, 4) and summary.lighting == "bright"


def test_brightness_weighs_the_channels_as_luma_and_names_the_lighting() -> None:
    green = np.zeros((16, 16, 3), np.uint8)
    green[..., 1] = 255   # RGB: pure green is 0.587 of white
    assert summarize_scene(green, []).brightness == 0.587
    assert (lighting(0.1), lighting(0.3), lighting(0.587)) == ("dark", "dim", "bright")
    nothing = summarize_scene(np.zeros((16, 16, 3), np.uint8), [])
    assert nothing.layout == {"left": [], "centre": [], "right": []} and nothing.lighting == "dark"
    assert nothing.description == "I don't see any objects in front of me."
