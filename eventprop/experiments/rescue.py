"""The silent-neuron rescue (docs/training.md#silent-neuron-rescue), shared by the experiments.

A hidden neuron that fires in no trial of an epoch is *silent*.  EventProp's gradient reaches a
neuron's weights only through its spikes, so a silent neuron never learns again on its own; the
rescue acts on its incoming weights instead, before the next epoch's first batch:

- ``REWIRE_LIFT ≠ 0``, ``REWIRE_LIFT_MODE`` 'all' (the original): ``w += REWIRE_LIFT`` for every
  weight of the layer's incoming matrix, every epoch, whether any neuron is silent or not;
- ``REWIRE_LIFT ≠ 0``, ``REWIRE_LIFT_MODE`` 'silent': ``w[:, j] += REWIRE_LIFT`` for each silent
  neuron ``j`` only;
- ``REWIRE_LIFT = 0``: ``w[:, j] ~ Normal(INPUT_HIDDEN_MEAN, INPUT_HIDDEN_STD)``, a fresh draw for
  each silent neuron ``j``, from a generator of its own derived from ``MODEL_SEED`` (so the rescue
  does not shift any other random stream; the original's was unseeded).

The incoming matrix of hidden layer ``l`` is ``in_to_hid`` for ``l = 0`` and ``hid{l-1}_to_hid{l}``
after it.  The rescue is decided at the end of an epoch and applied before the next one, so the
``last``/``best`` weight files hold the weights that produced the epoch's accuracies, and a resumed
run repeats it exactly (its state travels in the checkpoint).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from eventprop import results as res

#: The spawn key of the rescue's generator under ``MODEL_SEED``.
RESCUE_STREAM = 5


def with_simple_regulariser(p) -> bool:
    """The rule of SHD, SSC and DVS gesture, as in the original: ``REWIRE_SILENT`` acts only
    with ``REG_TYPE`` 'simple', whose spike counts the original's rescue read."""
    return bool(p.REWIRE_SILENT) and p.REG_TYPE == "simple"


def when_asked(p) -> bool:
    """The rule of Yin-Yang and MNIST, which had no rescue in the original: ``REWIRE_SILENT``
    alone."""
    return bool(p.REWIRE_SILENT)


def incoming_matrix(layer: int) -> str:
    """The name of hidden layer ``layer``'s incoming (feed-forward) weight matrix."""
    return "in_to_hid" if layer == 0 else f"hid{layer - 1}_to_hid{layer}"


def silent_masks(description, counts) -> list[np.ndarray]:
    """Per hidden layer of ``description``, the boolean mask of its neurons whose entry of
    ``counts`` (spikes per neuron, all hidden neurons in description order) is zero."""
    counts = np.asarray(counts)
    return [counts[pop.offset:pop.offset + pop.size] == 0 for pop in description.hidden]


def rescued_weights(weights: dict, silent: list, params, rng) -> dict:
    """The changed incoming matrices (name → new array, changed in place) for the per-layer
    ``silent`` masks, by the rule of the module docstring; layers left alone are not in it."""
    p = params
    changed = {}
    for layer, mask in enumerate(silent):
        name = incoming_matrix(layer)
        w = weights[name]
        lift = float(p.REWIRE_LIFT)
        if lift != 0.0 and p.REWIRE_LIFT_MODE == "all":  # the original: every weight, every epoch
            w += np.asarray(lift, dtype=w.dtype)
        elif not mask.any():
            continue
        elif lift != 0.0:
            w[:, mask] += np.asarray(lift, dtype=w.dtype)
        else:
            w[:, mask] = rng.normal(p.INPUT_HIDDEN_MEAN, p.INPUT_HIDDEN_STD,
                                    size=(w.shape[0], int(mask.sum())))
        changed[name] = w
    return changed


class SilentNeuronRescue:
    """One run's rescue: :meth:`note` the silent neurons after an epoch, :meth:`apply` the
    rescue to the network before the next; :meth:`state` / :meth:`load_state` for checkpoints.

    ``rule(params)`` (:func:`with_simple_regulariser` or :func:`when_asked`) says whether the
    experiment rescues with the parameters as they are when an epoch ends."""

    def __init__(self, params, rule: Callable[[object], bool]):
        self.params = params
        self.rule = rule
        self.rng = np.random.default_rng(
            np.random.SeedSequence(params.MODEL_SEED, spawn_key=(RESCUE_STREAM,)))
        self.pending = None  # per layer, the indices of the silent neurons of the finished epoch

    @property
    def enabled(self) -> bool:
        return bool(self.rule(self.params))

    def note(self, silent: list) -> None:
        """Remember the per-layer ``silent`` masks of the epoch that just ended."""
        if self.enabled:
            self.pending = [np.flatnonzero(m).tolist() for m in silent]

    def apply(self, engine) -> None:
        """Rescue the neurons noted last on ``engine`` (nothing if none were noted)."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        masks = []
        for pop, idx in zip(engine.description.hidden, pending):
            mask = np.zeros(pop.size, dtype=bool)
            mask[np.asarray(idx, dtype=np.int64)] = True
            masks.append(mask)
        self.rewire(engine, masks)

    def rewire(self, engine, silent: list) -> None:
        """Apply the rescue for the per-layer boolean ``silent`` masks to ``engine`` now."""
        if not self.enabled:
            return
        changed = rescued_weights(engine.get_weights(), silent, self.params, self.rng)
        if changed:
            engine.set_weights(changed)

    def state(self) -> dict:
        return {"rewire_rng": res.rng_state(self.rng), "pending_rescue": self.pending}

    def load_state(self, state: dict) -> None:
        if "rewire_rng" in state:
            self.rng = res.restore_rng(state["rewire_rng"])
        self.pending = state.get("pending_rescue")


class RescueHooks:
    """The rescue's two experiment hooks, for an experiment that keeps a
    :class:`SilentNeuronRescue` in ``self.rescue`` and calls ``self.rescue.note`` in its
    ``after_epoch``; put before :class:`~eventprop.experiments.base.Experiment` in the bases."""

    def before_epoch(self, trainer, epoch: int) -> None:
        """The silent-neuron rescue due from the previous epoch, on the trainer's network."""
        self.rescue.apply(trainer.engine)

    def rewire(self, engine, silent) -> None:
        """The silent-neuron rescue on ``engine`` now, for each hidden layer's boolean mask of
        silent neurons; nothing unless the experiment's rule allows it (``self.rescue.rule``)."""
        self.rescue.rewire(engine, silent)
