"""Which rows each global step trains on: the same for any number of workers, a fresh order per epoch,
fixed by the seed; and the positions an example's loss covers."""

from __future__ import annotations

from embodied_ai.distributed.data_parallel import StepPlan, answer_tokens


def test_each_epoch_visits_every_row_once_in_a_seeded_order() -> None:
    plan = StepPlan.of(rows=10, batch_size=4, num_epochs=2, max_steps=0, seed=3)
    assert (plan.total_steps, plan.steps_per_epoch) == (6, 3)
    for epoch in range(2):
        rows = [row for step in range(3 * epoch, 3 * epoch + 3) for row in plan.batch(step)]
        assert sorted(rows) == list(range(10))
    assert plan.batch(0) != plan.batch(3)                            # a new order each epoch
    assert plan.batch(4) == StepPlan.of(10, 4, 2, 0, seed=3).batch(4)   # the same order for the same seed
    assert plan.batch(0) != StepPlan.of(10, 4, 2, 0, seed=4).batch(0)
    assert plan.epoch_of(3) == 1.0 and StepPlan.of(10, 4, 1, max_steps=5, seed=0).total_steps == 5


def test_ranks_split_a_global_batch_into_disjoint_shares_that_cover_it() -> None:
    batch = StepPlan.of(rows=40, batch_size=8, num_epochs=1, max_steps=0, seed=0).batch(2)
    for world in (1, 2, 3):
        shares = [batch[rank::world] for rank in range(world)]
        assert sorted(row for share in shares for row in share) == sorted(batch)


def test_an_examples_loss_covers_its_answer_tokens_after_the_shift() -> None:
    assert answer_tokens({"input_ids": [5, 6, 7, 8], "labels": [-100, -100, 7, 8]}) == 2
    assert answer_tokens({"input_ids": [5, 6], "labels": [5, 6]}) == 1   # the first position predicts nothing
