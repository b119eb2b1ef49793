from embodied_ai.perception.scene import SeenObject, describe_scene


def test_objects_are_named_left_to_right_with_ids_sides_and_distances():
    scene = [SeenObject("cube", 0.9, 4, (0.30, -0.20, 0.02)),
             SeenObject("can", 0.8, 2, (0.40, 0.15, 0.05)),
             SeenObject("ball", 0.7, 7, (0.35, 0.0, 0.03))]
    assert describe_scene(scene) == (
        "I see 3 objects (1 ball, 1 can, and 1 cube): a can (object 2) on my left, about 43 cm away; "
        "a ball (object 7) in front of me, about 35 cm away; and a cube (object 4) on my right, about 36 cm away.")


def test_counts_are_plural_and_unknown_positions_come_last():
    scene = [SeenObject("cube", 0.9, None, None), SeenObject("cube", 0.9, 1, (0.3, 0.1, 0.0))]
    text = describe_scene(scene)
    assert text.startswith("I see 2 objects (2 cubes): a cube (object 1) on my left")
    assert text.endswith(" away and a cube.")


def test_nothing_seen_or_everything_below_the_score_is_said_plainly():
    assert describe_scene([]) == "I don't see any objects in front of me."
    assert describe_scene([SeenObject("can", 0.2)], min_score=0.5) == "I don't see any objects in front of me."
