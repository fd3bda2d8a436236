"""Wake-ups of worker threads: a queued job wakes the workers of its model, never only a
worker of another lane (which would spend the wake-up and leave the job to the next poll)."""

from __future__ import annotations

import threading

from fluxserve.jobs.signals import JobSignals

TRAINER = "flux-2-pro-text-to-image-trainer-712"
LONG_S = 60.0  # no wait in these tests should come near it


def _waiting(signals: JobSignals, model_ids: list[str], woken: threading.Event) -> threading.Thread:
    mark = signals.work_mark(model_ids)

    def wait() -> None:
        signals.wait_for_work(model_ids, mark, LONG_S)
        woken.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def test_a_queued_job_wakes_its_models_workers_and_no_others() -> None:
    signals = JobSignals()
    trainer_woken, generator_woken = threading.Event(), threading.Event()
    trainer = _waiting(signals, [TRAINER], trainer_woken)
    generator = _waiting(signals, ["flux-dev", "flux-1-schnell"], generator_woken)

    signals.job_queued("flux-1-schnell")
    assert generator_woken.wait(10), "the generation lane slept through its job"
    generator.join(10)
    assert not trainer_woken.is_set()  # its condition is unchanged: it sleeps on

    signals.wake_all()  # a stop or a rescue wakes everyone
    assert trainer_woken.wait(10)
    trainer.join(10)


def test_work_queued_between_the_look_and_the_wait_is_not_slept_on() -> None:
    signals = JobSignals()
    mark = signals.work_mark(["flux-dev"])
    signals.job_queued("flux-dev")  # lands while the worker was still looking for work
    done = threading.Event()

    def wait() -> None:
        signals.wait_for_work(["flux-dev"], mark, LONG_S)
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    assert done.wait(10)
