"""How `evaluate --ray` cuts a set into tasks (camview.sets.on_ray.task_rows): whole batches,
the same share for every worker, several tasks each, none over ROWS_PER_TASK batches."""

import math

import pytest

from camview.sets.on_ray import ROWS_PER_TASK, TASKS_PER_WORKER, task_rows


@pytest.mark.parametrize("rows", [1, 7, 18, 100, 1500, 2048, 100_000])
@pytest.mark.parametrize("workers", [1, 2, 3, 10])
@pytest.mark.parametrize("batch", [1, 2, 16])
def test_tasks_are_whole_batches_shared_alike_and_never_too_long(rows, workers, batch):
    per_task = task_rows(rows, workers, batch)
    tasks = math.ceil(rows / per_task)
    assert per_task % batch == 0 and per_task <= batch * ROWS_PER_TASK
    # No worker carries more than its share, but for rounding each task up to whole
    # batches (1500 rows on 2 workers in tasks of 512 were 1024 rows for one, 476 for the
    # other), whoever takes the last task.
    most = math.ceil(tasks / workers)
    assert most * per_task <= rows / workers + most * batch
    if rows >= workers * TASKS_PER_WORKER * batch * 2:  # room for several tasks each
        assert tasks >= workers * (TASKS_PER_WORKER - 1)


def test_a_large_set_goes_in_the_longest_tasks():
    assert task_rows(2048, 1, 16) == 16 * ROWS_PER_TASK
    assert task_rows(100_000, 10, 16) == 16 * ROWS_PER_TASK
    assert task_rows(1500, 2, 16) == 192  # eight tasks, four a worker
