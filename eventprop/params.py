"""The seed's parameter tables as ``param.Parameterized`` classes.

One class per experiment holds every key of the original simulator's parameter dict ``p``
(spec §8), with the seed's exact key names, the code defaults at HEAD, bounds, the valid choices
for strings, a doc string (meaning and units) and a readable label.  The same classes are the
single source of truth for

- the CLI (``eventprop train shd --set NUM_HIDDEN=512``, see :func:`parse_set`),
- seed-style JSON files (a flat dict of keys; :func:`load_params_json`, :func:`save_params_json`),
- the lab's parameter widgets (``pn.Param`` renders them, grouped by :data:`GROUPS`).

Classes: :class:`ModelParams` (the keys every engine and the trainer use, with the SHD code
defaults), :class:`YinYangParams`, :class:`MNISTParams`, :class:`SHDParams` (SHD and SSC, chosen
by ``DATA_SET``) and :class:`DVSGestureParams`.

Loading rules (spec §8.3, architecture "Conventions"):

- Keys that old JSON files and scan scripts contain but that the original ignores at HEAD
  (:data:`IGNORED_KEYS`) are accepted, reported with an :class:`IgnoredParameterWarning` and
  dropped.  ``TRAIN_TAUM`` is the deprecated alias of ``TRAIN_TAU``: its value is used, with a
  warning.
- Any other unknown key is a :class:`ParameterError` naming the closest valid key.
- Out-of-range values and inconsistent combinations are :class:`ParameterError` s whose message
  names the parameter and the valid range, e.g. ``"TAU_MEM must be > 0 (got -1.0)"``.

Keys that exist in a simulator's table but do nothing in this port (``BUILD``, ``TIMING``,
``CUDA_VISIBLE_DEVICES``, ``PROFILE``, ``TRAINING_PLOT``, ...) are accepted so that the seed's files
load; their doc strings say "No effect in this port".  Some keys are project additions, not seed
keys: ``REWIRE_LIFT_MODE`` and ``SCHEDULE``, for MNIST ``DATA_SET`` and ``DATA_DIR``, and
for SHD/SSC ``DATA_DIR``.

Importing this module is cheap: it needs only ``param`` and the standard library.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, ClassVar

import param

__all__ = [
    "ParameterError",
    "IgnoredParameterWarning",
    "ModelParams",
    "YinYangParams",
    "MNISTParams",
    "SHDParams",
    "DVSGestureParams",
    "PARAM_CLASSES",
    "EXPERIMENTS",
    "GROUPS",
    "LOSS_TYPES",
    "FIRST_SPIKE_LOSSES",
    "IGNORED_KEYS",
    "AUGMENTATION_KEYS",
    "make_params",
    "load_params_json",
    "save_params_json",
    "parse_set",
    "set_value",
    "validate",
    "to_dict",
    "param_keys",
    "groups_for",
    "n_steps",
    "describe",
]


class ParameterError(ValueError):
    """A parameter key or value is invalid.  The message names the key and what is allowed."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class IgnoredParameterWarning(UserWarning):
    """A key from an old parameter file was accepted but has no effect (spec §8.3)."""


# ---------------------------------------------------------------------------------------------
# Choices shared by the classes and the validation

LOSS_TYPES = (
    "first_spike",
    "first_spike_exp",
    "max",
    "sum",
    "sum_weigh_linear",
    "sum_weigh_exp",
    "sum_weigh_sigmoid",
    "sum_weigh_input",
    "avg_xentropy",
)
FIRST_SPIKE_LOSSES = ("first_spike", "first_spike_exp")
HIDDEN_NEURON_TYPES = ("LIF", "hetLIF", "ALIF")
OUTPUT_NEURON_TYPES = ("LI", "hetLI")
REG_TYPES = ("none", "simple", "Thomas1")

#: Augmentation keys understood in ``AUGMENTATION`` (spec §6.3), with the expected value.
AUGMENTATION_KEYS = {
    "random_shift": "a number s >= 0 (channels shifted by int(U(-s, s)))",
    "random_dilate": "a pair [f_min, f_max] with 0 < f_min <= f_max",
    "ID_jitter": "a number sigma >= 0 (channel jitter, in channels)",
    "random_shift_xy": "a whole number s >= 0 (DVS gesture: the event frame moved by up to s "
    "pixels in x and y)",
    "blend": "a non-empty list of keep probabilities, each in [0, 1]",
    "NORMALISE_SPIKE_NUMBER": "true or false",
}

#: Keys the original ignores at HEAD (spec §8.3): accepted with a warning and dropped.  A key that
#: is a real parameter of the chosen experiment (``ETA_DECAY`` for Yin-Yang, ``N_TEST`` outside
#: SHD/SSC) is of course not ignored there.
IGNORED_KEYS = {
    "TAU_MEM_OUTPUT": "dead at HEAD: output neurons take their membrane time constant from TAU_MEM",
    "NU_LOWER": "removed: NU_UPPER is the single spike-count target of the regulariser",
    "SUPER_BATCH": "not used at HEAD",
    "ETA_DECAY": "not used by this simulator (only Yin-Yang decays the learning rate per epoch)",
    "ETA_FIDDELING": "not used at HEAD",
    "ETA_REDUCE": "not used at HEAD (the EMA plateau rule ETA_FAC replaces it)",
    "ETA_REDUCE_PERIOD": "not used at HEAD (the EMA plateau rule replaces it)",
    "W_REPORT_INTERVAL": "only the Yin-Yang simulator writes periodic weight snapshots",
    "DOWNLOAD_SHD": "the data loaders fetch or find the data themselves",
    "DATASET": "the key is DATA_SET (the README's DATASET is not read by the code)",
    "DEBUG": "not used at HEAD",
    "READ_BUFFERED": "not used at HEAD",
    "N_TEST": "the SHD/SSC simulator always evaluates the whole test split",
}

#: Deprecated aliases: the value is used for the new key, with a warning.
DEPRECATED_ALIASES = {"TRAIN_TAUM": "TRAIN_TAU"}

_DATA_SET_CLASSES = {"SHD": 20, "SSC": 35}

_NO_EFFECT = "No effect in this port (accepted so that the seed's parameter files load)."


# ---------------------------------------------------------------------------------------------
# The generic table


class ModelParams(param.Parameterized):
    """Every key the engines and the trainer use, with generic defaults (the SHD code defaults
    where one exists, spec §8.3).  The experiment classes below override the defaults and add
    their own keys."""

    experiment: ClassVar[str] = "generic"
    # Inherited keys that are not part of this experiment's table: hidden from the UI, left out of
    # to_dict() and unknown to the loaders.  Their value is kept consistent by the class.
    _excluded_keys: ClassVar[frozenset] = frozenset()
    # Keys hard-coded by the simulator: setting another value is an error.
    _fixed_values: ClassVar[dict] = {}
    # Silent synonyms (generic name -> this experiment's name).
    _aliases: ClassVar[dict] = {}
    # The input-weighted loss needs the accumulator neuron, which only the SHD/SSC simulator has.
    _supports_input_weighting: ClassVar[bool] = False

    # --- General -----------------------------------------------------------------------------
    NAME = param.String(
        default="test",
        label="Run name",
        doc="Prefix of every file the run writes into OUT_DIR (NAME_results.txt, NAME_w_*.npy, "
        "...).",
    )
    OUT_DIR = param.String(
        default=".",
        label="Output directory",
        doc="Directory that receives the results, checkpoints and recordings (created if missing).",
    )
    MODEL_SEED = param.Integer(
        default=0,
        allow_None=True,
        bounds=(0, None),
        label="Model seed",
        doc=(
            "Seed of the model random number generator: weight initialisation, heterogeneous τ "
            "draws, dropout, hidden noise and re-wiring. The seed's default is None (unseeded); "
            "this port defaults to 0 for reproducibility. None draws a fresh seed, recorded in "
            "the results."
        ),
    )
    TRAIN_DATA_SEED = param.Integer(
        default=123,
        bounds=(0, None),
        label="Training data seed",
        doc="Seed of the data random number generator: training-set generation or selection, "
        "train/validation split, shuffling and augmentation.",
    )
    TEST_DATA_SEED = param.Integer(
        default=456,
        bounds=(0, None),
        label="Test data seed",
        doc="Seed used to generate or shuffle the test set (unused by the SHD/SSC simulator).",
    )
    BUILD = param.Boolean(
        default=True,
        label="Rebuild model (GeNN)",
        doc="The original's switch to regenerate and compile the GeNN model. " + _NO_EFFECT,
    )
    TIMING = param.Boolean(
        default=True,
        label="GeNN kernel timing",
        doc="The original printed GeNN kernel timings at the end of a run. " + _NO_EFFECT,
    )
    LOAD_LAST = param.Boolean(
        default=False,
        label="Load last checkpoint",
        doc="Load the weights (and τ) saved with the label 'last' from OUT_DIR at the start of "
        "training (file prefix CHECKPOINT_NAME if given, else NAME).",
    )
    WRITE_TO_DISK = param.Boolean(
        default=True,
        label="Write recordings to disk",
        doc="Write the recording files (REC_SPIKES, REC_NEURONS, REC_SYNAPSES). Gates the "
        "recording files only; results and checkpoints are always written.",
    )

    # --- Experiment --------------------------------------------------------------------------
    DT_MS = param.Number(
        default=1.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        softbounds=(0.01, 20.0),
        label="Time step Δ (ms)",
        doc="Simulation time step Δ in ms. Must be smaller than TRIAL_MS.",
    )
    TRIAL_MS = param.Number(
        default=1400.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        softbounds=(10.0, 2000.0),
        label="Trial length T (ms)",
        doc="Length T of one trial (one sample presentation) in ms; the trial has "
        "S = round(T/Δ) steps.",
    )
    N_MAX_SPIKE = param.Integer(
        default=1500,
        bounds=(1, None),
        label="Spike store size per neuron",
        doc="Spikes stored per neuron and batch element for the backward pass (the original's "
        "ring-buffer slots, which held two trials: at most N_MAX_SPIKE − 1 spikes). A full store "
        "raises an error naming N_MAX_SPIKE instead of silently dropping spikes.",
    )
    N_BATCH = param.Integer(
        default=32,
        bounds=(1, None),
        softbounds=(1, 512),
        label="Batch size B",
        doc="Samples per mini-batch B. The loss and regulariser scalings use this constant even "
        "for a partial last batch.",
    )
    N_EPOCH = param.Integer(
        default=100,
        bounds=(1, None),
        softbounds=(1, 300),
        label="Epochs",
        doc="Number of training epochs (README of the Yin-Yang simulator: N_EPOCHS).",
    )
    N_TRAIN = param.Integer(
        default=7644,
        bounds=(1, None),
        label="Training samples",
        doc="Number of training samples per epoch.",
    )
    N_VALIDATE = param.Integer(
        default=512,
        bounds=(0, None),
        label="Validation samples",
        doc="Number of samples held out from the training set for validation (0 = no validation).",
    )
    N_TEST = param.Integer(
        default=None,
        allow_None=True,
        bounds=(0, None),
        label="Test samples",
        doc="Number of test samples; None = the whole test split.",
    )
    SHUFFLE = param.Boolean(
        default=True,
        label="Shuffle training data",
        doc="Permute the order of the training samples every epoch (data seed).",
    )

    # --- Network structure -------------------------------------------------------------------
    NUM_INPUT = param.Integer(
        default=700,
        bounds=(1, None),
        label="Input neurons",
        doc="Number of input channels (neurons of the input population).",
    )
    NUM_HIDDEN = param.Integer(
        default=256,
        bounds=(1, None),
        softbounds=(1, 1024),
        label="Hidden neurons per layer",
        doc="Number of neurons in each hidden layer.",
    )
    NUM_OUTPUT = param.Integer(
        default=20,
        bounds=(1, None),
        label="Output neurons (classes)",
        doc="Number of output neurons = number of classes C.",
    )
    N_HID_LAYER = param.Integer(
        default=1,
        bounds=(1, None),
        softbounds=(1, 4),
        label="Hidden layers",
        doc="Number of hidden layers (the original supports more than one only for SHD/SSC). "
        "Layer l feeds layer l+1 through dense 'hidfwd' synapses.",
    )
    RECURRENT = param.Boolean(
        default=False,
        label="Recurrent hidden layers",
        doc="Add dense all-to-all recurrent synapses (autapses included) within each hidden layer.",
    )
    HIDDEN_NEURON_TYPE = param.Selector(
        default="LIF",
        objects=list(HIDDEN_NEURON_TYPES),
        label="Hidden neuron type",
        doc="'LIF': shared τm, τs; 'hetLIF': per-neuron τm, τs drawn from Gamma(3, τ/3) and "
        "clipped to [MIN_TAU, 3τ]; 'ALIF': adaptive threshold (needs REG_TYPE 'simple'). "
        "With REG_TYPE 'none' the original always uses plain LIF.",
    )
    OUTPUT_NEURON_TYPE = param.Selector(
        default="LI",
        objects=list(OUTPUT_NEURON_TYPES),
        label="Output neuron type",
        doc="'LI': shared τm, τs; 'hetLI': per-neuron τm, τs drawn as for hetLIF. The first-spike "
        "losses always use spiking LIF outputs with these time constants.",
    )
    N_INPUT_DELAY = param.Integer(
        default=0,
        bounds=(0, None),
        softbounds=(0, 20),
        label="Input delay-line copies",
        doc="Number D of delayed copies of the input (SHD/SSC): the input population has "
        "NUM_INPUT·(D+1) neurons, copy c replays the spikes shifted by c·INPUT_DELAY ms.",
    )
    INPUT_DELAY = param.Number(
        default=50.0,
        bounds=(0.0, None),
        label="Delay-line spacing (ms)",
        doc="Delay in ms between consecutive copies of the input delay line.",
    )

    # --- Model -------------------------------------------------------------------------------
    TAU_SYN = param.Number(
        default=5.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        softbounds=(0.5, 50.0),
        label="Synaptic time constant τs (ms)",
        doc="Decay time constant τs of the exponential synaptic current, in ms (mean τs for "
        "hetLIF/hetLI).",
    )
    TAU_MEM = param.Number(
        default=20.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        softbounds=(1.0, 100.0),
        label="Membrane time constant τm (ms)",
        doc="Membrane time constant τm in ms (mean τm for hetLIF/hetLI), hidden and output.",
    )
    V_THRESH = param.Number(
        default=1.0,
        label="Threshold θ",
        doc="Spike threshold θ of the LIF neurons (dimensionless voltage).",
    )
    V_RESET = param.Number(
        default=0.0,
        label="Reset voltage V_r",
        doc="Voltage after a spike and at trial start. The original's adjoint jump is only "
        "correct for V_r = 0; this port uses θ − V_r.",
    )
    TAU_B = param.Number(
        default=100.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="ALIF adaptation time constant τB (ms)",
        doc="Decay time constant of the ALIF threshold adaptation B, in ms.",
    )
    B_INCR = param.Number(
        default=0.1,
        label="ALIF adaptation increment",
        doc="Increase of the ALIF adaptation variable B at each spike.",
    )
    B_INIT = param.Number(
        default=0.0,
        label="ALIF initial adaptation",
        doc="Value of the ALIF adaptation variable B at the start of each trial.",
    )
    INPUT_HIDDEN_MEAN = param.Number(
        default=0.02,
        softbounds=(-0.5, 2.0),
        label="Input→hidden weight mean",
        doc="Mean of the Normal initialisation of the input→hidden weights.",
    )
    INPUT_HIDDEN_STD = param.Number(
        default=0.01,
        bounds=(0.0, None),
        softbounds=(0.0, 1.0),
        label="Input→hidden weight s.d.",
        doc="Standard deviation of the Normal initialisation of the input→hidden weights.",
    )
    HIDDEN_OUTPUT_MEAN = param.Number(
        default=0.0,
        softbounds=(-1.0, 2.0),
        label="Hidden→output weight mean",
        doc="Mean of the Normal initialisation of the hidden→output weights.",
    )
    HIDDEN_OUTPUT_STD = param.Number(
        default=0.3,
        bounds=(0.0, None),
        softbounds=(0.0, 1.0),
        label="Hidden→output weight s.d.",
        doc="Standard deviation of the Normal initialisation of the hidden→output weights.",
    )
    HIDDEN_HIDDEN_MEAN = param.Number(
        default=0.0,
        softbounds=(-0.5, 0.5),
        label="Recurrent weight mean",
        doc="Mean of the Normal initialisation of the recurrent hidden→hidden weights.",
    )
    HIDDEN_HIDDEN_STD = param.Number(
        default=0.02,
        bounds=(0.0, None),
        softbounds=(0.0, 0.5),
        label="Recurrent weight s.d.",
        doc="Standard deviation of the Normal initialisation of the recurrent weights.",
    )
    HIDDEN_HIDDENFWD_MEAN = param.Number(
        default=0.02,
        softbounds=(-0.5, 0.5),
        label="Hidden l→l+1 weight mean",
        doc="Mean of the Normal initialisation of the feed-forward weights between hidden layers.",
    )
    HIDDEN_HIDDENFWD_STD = param.Number(
        default=0.01,
        bounds=(0.0, None),
        softbounds=(0.0, 0.5),
        label="Hidden l→l+1 weight s.d.",
        doc="Standard deviation of the initialisation of the weights between hidden layers.",
    )
    PDROP_INPUT = param.Number(
        default=0.1,
        bounds=(0.0, 1.0),
        inclusive_bounds=(True, False),
        label="Input dropout probability",
        doc="Probability that an input spike is deleted, independently per spike, in training "
        "trials (0 during evaluation).",
    )
    PDROP_HIDDEN = param.Number(
        default=0.0,
        bounds=(0.0, 1.0),
        inclusive_bounds=(True, False),
        label="Hidden spike-suppression probability",
        doc="Probability that a hidden threshold crossing is suppressed in training trials; the "
        "crossing is tested again next step, so the spike is delayed rather than deleted.",
    )
    HIDDEN_NOISE = param.Number(
        default=0.0,
        bounds=(0.0, None),
        softbounds=(0.0, 1.0),
        label="Hidden voltage noise amplitude",
        doc="Amplitude A of the Gaussian noise V += A·N(0,1)·√Δ added after each hidden update in "
        "training trials (needs REG_TYPE 'simple' in the original).",
    )

    # --- Learning ----------------------------------------------------------------------------
    ETA = param.Number(
        default=1e-3,
        bounds=(0.0, None),
        softbounds=(1e-5, 0.1),
        label="Learning rate η",
        doc="Adam learning rate η.",
    )
    ADAM_BETA1 = param.Number(
        default=0.9,
        bounds=(0.0, 1.0),
        inclusive_bounds=(True, False),
        label="Adam β1",
        doc="Adam decay rate of the first-moment estimate.",
    )
    ADAM_BETA2 = param.Number(
        default=0.999,
        bounds=(0.0, 1.0),
        inclusive_bounds=(True, False),
        label="Adam β2",
        doc="Adam decay rate of the second-moment estimate.",
    )
    ADAM_EPS = param.Number(
        default=1e-8,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="Adam ε",
        doc="Adam denominator offset ε.",
    )
    TRAIN_W = param.Boolean(
        default=True,
        label="Train hidden weights",
        doc="Train the input→hidden, recurrent and hidden l→l+1 weights (False freezes them; the "
        "backward pass still runs through them).",
    )
    TRAIN_W_OUTPUT = param.Boolean(
        default=True,
        label="Train output weights",
        doc="Train the hidden→output weights.",
    )
    TRAIN_TAU = param.Boolean(
        default=False,
        label="Train hidden τm, τs",
        doc="Learn per-neuron hidden τm and τs by gradient descent (needs REG_TYPE 'simple'). "
        "TRAIN_TAUM is the deprecated alias.",
    )
    TRAIN_TAU_OUTPUT = param.Boolean(
        default=False,
        label="Train output τm, τs",
        doc="Learn per-neuron output τm and τs (only with LOSS_TYPE 'sum_weigh_exp').",
    )
    MIN_TAU_M = param.Number(
        default=3.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="Minimum τm (ms)",
        doc="Lower clamp of trained τm and lower clip of hetLIF/hetLI τm draws, in ms.",
    )
    MIN_TAU_SYN = param.Number(
        default=1.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="Minimum τs (ms)",
        doc="Lower clamp of trained τs and lower clip of hetLIF/hetLI τs draws, in ms.",
    )
    REG_TYPE = param.Selector(
        default="none",
        objects=list(REG_TYPES),
        label="Regulariser",
        doc="Hidden spike-count regulariser: 'none'; 'simple' = per-neuron (c/2)(N − ν)² pushed "
        "through the adjoint at every spike; 'Thomas1' = 'simple' plus a layer-total term "
        "(legacy, broken in the original).",
    )
    LBD_UPPER = param.Number(
        default=2e-9,
        bounds=(0.0, None),
        label="Regulariser strength above target",
        doc="Strength of the spike-count regulariser for neurons firing more than NU_UPPER spikes "
        "per trial.",
    )
    LBD_LOWER = param.Number(
        default=2e-9,
        bounds=(0.0, None),
        label="Regulariser strength below target",
        doc="Strength of the spike-count regulariser for neurons firing at most NU_UPPER spikes "
        "per trial (pushes activity up).",
    )
    NU_UPPER = param.Number(
        default=14.0,
        bounds=(0.0, None),
        label="Target spikes per neuron ν",
        doc="Target spike count ν per hidden neuron and trial of the regulariser.",
    )
    RHO_UPPER = param.Number(
        default=10000.0,
        bounds=(0.0, None),
        label="Layer spike-count target (Thomas1)",
        doc="Target total spike count of a hidden layer per trial (REG_TYPE 'Thomas1').",
    )
    GLB_UPPER = param.Number(
        default=1e-8,
        bounds=(0.0, None),
        label="Layer regulariser strength (Thomas1)",
        doc="Strength of the layer-total regulariser (REG_TYPE 'Thomas1').",
    )
    AVG_SNSUM = param.Boolean(
        default=False,
        label="Batch-average spike counts",
        doc="Replace each neuron's spike count by its batch mean before the regulariser uses it.",
    )
    REWIRE_SILENT = param.Boolean(
        default=False,
        label="Rescue silent neurons",
        doc="After each epoch act on the incoming weights of hidden neurons that did not spike "
        "(see REWIRE_LIFT, REWIRE_LIFT_MODE). The original collects the statistics only with "
        "REG_TYPE 'simple' or 'Thomas1'.",
    )
    REWIRE_LIFT = param.Number(
        default=0.0,
        softbounds=(0.0, 0.01),
        label="Silent-neuron weight lift",
        doc="If non-zero: weight added by the silent-neuron rescue (see REWIRE_LIFT_MODE). If 0: "
        "the silent neurons' incoming weights are re-drawn from "
        "Normal(INPUT_HIDDEN_MEAN, INPUT_HIDDEN_STD).",
    )
    REWIRE_LIFT_MODE = param.Selector(
        default="all",
        objects=["all", "silent"],
        label="Lift mode (project addition)",
        doc="Project addition, not a seed key. 'all' (default) = the original: REWIRE_LIFT is "
        "added to every incoming weight of the layer every epoch, whether or not any neuron is "
        "silent; 'silent' = only the incoming columns of silent neurons are lifted.",
    )
    SCHEDULE = param.Selector(
        default="synchronous",
        objects=["synchronous", "interleaved"],
        label="Update schedule (project addition)",
        doc="Project addition, not a seed key. 'synchronous' (default): forward, backward and "
        "optimiser step per batch. 'interleaved': the original's schedule (spec §1.3), where "
        "batch k's backward pass runs during batch k+1's forward pass, so every gradient is one "
        "optimiser step stale and the last training batch's gradient is lost each epoch.",
    )

    GENN_BACKEND = param.Selector(
        default="cuda",
        objects=["cuda", "single_threaded_cpu"],
        label="GeNN backend (project addition)",
        doc="Project addition, not a seed key; used by --engine genn only. 'cuda' (default): the "
        "batch of N_BATCH trials runs on the GPU at once. 'single_threaded_cpu': GeNN's CPU "
        "backend, which runs one trial at a time; the engine accumulates the batch's gradients, "
        "so a batch gives the same update. Always named: pygenn is never left to choose.",
    )
    GENN_TIMEOUT = param.Number(
        default=600.0,
        bounds=(1.0, None),
        label="GeNN batch timeout (s, project addition)",
        doc="Project addition, not a seed key; used by --engine genn only. Seconds one batch may "
        "take in the GeNN worker process before it counts as hung and is stopped (the first "
        "build of the generated code is not counted).",
    )

    # --- Loss --------------------------------------------------------------------------------
    LOSS_TYPE = param.Selector(
        default="sum_weigh_exp",
        objects=list(LOSS_TYPES),
        label="Loss function",
        doc="Task loss. 'first_spike', 'first_spike_exp': cross-entropy on first-spike times of "
        "spiking outputs; 'max': on the maximum voltage; 'sum': on the mean voltage; "
        "'sum_weigh_linear', 'sum_weigh_exp', 'sum_weigh_sigmoid': on a time-weighted mean voltage "
        "(loss shaping); 'sum_weigh_input': weighted by the input activity (SHD/SSC only); "
        "'avg_xentropy': the time-averaged instantaneous cross-entropy.",
    )
    TAU_0 = param.Number(
        default=1.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="First-spike softmax scale τ0 (ms)",
        doc="Time scale τ0 in ms of the softmax over first-spike times (first-spike losses).",
    )
    TAU_1 = param.Number(
        default=100.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="Late-spike penalty scale τ1 (ms)",
        doc="Time scale τ1 in ms of the exponential late-spike penalty α·(exp(t/τ1) − 1) "
        "('first_spike_exp' only).",
    )
    ALPHA = param.Number(
        default=5e-5,
        bounds=(0.0, None),
        label="Late-spike penalty α",
        doc="Strength α of the late-spike penalty of the first-spike losses.",
    )
    TAU_ACCUMULATOR = param.Number(
        default=20.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="Input accumulator time constant (ms)",
        doc="Time constant in ms of the input-activity accumulator neuron ('sum_weigh_input').",
    )

    # --- Recording ---------------------------------------------------------------------------
    REC_SPIKES = param.List(
        default=[],
        label="Record spikes of",
        doc="Populations whose spikes are recorded: 'input', 'hidden0', 'hidden1', ..., 'output' "
        "('hidden' in the MNIST simulator).",
    )
    REC_SPIKES_EPOCH_TRIAL = param.List(
        default=[],
        label="Spike recording [epoch, trial]",
        doc="List of [epoch, trial] pairs in which spikes are recorded.",
    )
    REC_NEURONS = param.List(
        default=[],
        label="Record neuron variables",
        doc="List of [population, variable] pairs recorded every step, e.g. ['hidden0', 'V'].",
    )
    REC_NEURONS_EPOCH_TRIAL = param.List(
        default=[],
        label="Neuron recording [epoch, trial]",
        doc="List of [epoch, trial] pairs in which the neuron variables are recorded.",
    )
    REC_SYNAPSES = param.List(
        default=[],
        label="Record synapse variables",
        doc="List of [synapse population, variable] pairs recorded every step, e.g. "
        "['in_to_hid', 'w'] (variables 'w', 'dw', 'in_syn').",
    )
    REC_SYNAPSES_EPOCH_TRIAL = param.List(
        default=[],
        label="Synapse recording [epoch, trial]",
        doc="List of [epoch, trial] pairs in which the synapse variables are recorded.",
    )
    SPK_REC_STEPS = param.Integer(
        default=None,
        allow_None=True,
        bounds=(1, None),
        label="Spike recording buffer (steps)",
        doc="Steps held by the spike-recording buffer; None = one trial, round(TRIAL_MS/DT_MS).",
    )
    W_OUTPUT_EPOCH_TRIAL = param.List(
        default=[],
        label="Weight snapshots [epoch, trial]",
        doc="List of [epoch, trial] pairs after which all weight matrices are saved "
        "(NAME_w_*_e{E}_t{T}.npy).",
    )
    COLLECT_CONFUSION = param.Boolean(
        default=False,
        label="Collect confusion matrices",
        doc="Save per-epoch confusion matrices conf[prediction, label] for training and "
        "evaluation (NAME_confusion_{train,eval}.npy).",
    )
    REC_PREDICTIONS = param.Boolean(
        default=False,
        label="Record predictions",
        doc="Save per-epoch predictions and labels (NAME_predictions_*.npy, NAME_labels_*.npy).",
    )
    DEBUG_HIDDEN_N = param.Boolean(
        default=False,
        label="Hidden spike statistics",
        doc="Record the hidden spikes, print and log per-layer spike statistics and the number of "
        "silent neurons in the results file.",
    )

    def n_classes(self) -> int:
        """Number of output neurons C actually built (NUM_OUTPUT, or as resolved by the class)."""
        return int(self.NUM_OUTPUT)


# ---------------------------------------------------------------------------------------------
# Experiment tables


def _doc(key: str, extra: str) -> str:
    return ModelParams.param[key].doc + " " + extra


class YinYangParams(ModelParams):
    """Yin-Yang (`simulator_yinyang.py`, spec §6.1, §8.1).

    Fixed: ``N_TRAIN`` and ``N_TEST`` count samples (the original generated three times as many).
    """

    experiment: ClassVar[str] = "yinyang"
    _excluded_keys: ClassVar[frozenset] = frozenset({"PDROP_HIDDEN"})
    _fixed_values: ClassVar[dict] = {"NUM_INPUT": 5, "NUM_OUTPUT": 3}
    _aliases: ClassVar[dict] = {"PDROP_HIDDEN": "PDROP"}

    DT_MS = param.Number(
        default=0.05,
        doc=_doc("DT_MS", "Seed default 0.1 (train_yinyang.py uses 0.01); 0.05 here, tuned with "
                 "the other Yin-Yang defaults to pass 97 % test accuracy in about two minutes "
                 "on 2 CPU cores. The 'seed' preset restores the original table."),
    )
    TRIAL_MS = param.Number(default=30.0)
    N_MAX_SPIKE = param.Integer(default=400)
    N_EPOCH = param.Integer(default=30, doc=_doc("N_EPOCH", "Seed default 10 (of 96000 samples)."))
    N_TRAIN = param.Integer(
        default=20000,
        doc="Number of training samples generated (TRAIN_DATA_SEED). The seed generated "
        "3·N_TRAIN samples (default 3·32000 = 96000); here N_TRAIN counts samples, and the "
        "default 20000 gives 30 short CPU epochs.",
    )
    N_VALIDATE = param.Integer(
        default=0,
        doc=_doc("N_VALIDATE", "The seed has no Yin-Yang validation set; 0 keeps it so."),
    )
    N_TEST = param.Integer(
        default=1000,
        doc="Number of test samples generated (TEST_DATA_SEED). The seed generated 3·N_TEST "
        "samples (default 3·800 = 2400); here N_TEST counts samples.",
    )
    SHUFFLE = param.Boolean(
        default=True,
        doc=_doc("SHUFFLE", "The seed presents the Yin-Yang samples in generation order (False)."),
    )
    NUM_INPUT = param.Integer(
        default=5,
        constant=True,
        doc="Fixed at 5: a bias neuron plus the features x, y, 1−x, 1−y, one spike each per trial.",
    )
    NUM_OUTPUT = param.Integer(default=3, constant=True, doc="Fixed at 3: the three classes.")
    NUM_HIDDEN = param.Integer(default=200, doc=_doc("NUM_HIDDEN", "Seed default 100; README: 200."))
    INPUT_HIDDEN_MEAN = param.Number(default=1.5)
    INPUT_HIDDEN_STD = param.Number(default=0.78)
    HIDDEN_OUTPUT_MEAN = param.Number(
        default=0.0, doc=_doc("HIDDEN_OUTPUT_MEAN", "Seed default 0.93 (for spiking first-spike "
                              "outputs); 0 for the default leaky-integrator readout."))
    HIDDEN_OUTPUT_STD = param.Number(
        default=0.3, doc=_doc("HIDDEN_OUTPUT_STD", "Seed default 0.1."))
    PDROP_INPUT = param.Number(
        default=0.0,
        doc=_doc("PDROP_INPUT", "Not in the Yin-Yang seed (no input dropout); 0 keeps it so."),
    )
    PDROP_HIDDEN = param.Number(
        precedence=-1, doc="Set through PDROP, the Yin-Yang table's name for this probability."
    )
    PDROP = param.Number(
        default=0.0,
        bounds=(0.0, 1.0),
        inclusive_bounds=(True, False),
        label="Hidden spike-suppression probability",
        doc="The Yin-Yang name of PDROP_HIDDEN: probability that a hidden threshold crossing is "
        "suppressed in training trials. The seed has no default (it must be set); this port "
        "uses 0.0, as train_yinyang.py does.",
    )
    ETA = param.Number(default=5e-3)
    ETA_DECAY = param.Number(
        default=0.95,
        bounds=(0.0, 1.0),
        inclusive_bounds=(False, True),
        label="Learning-rate decay per epoch",
        doc="Factor applied to the learning rate at every epoch (the original also applies it "
        "before the first epoch).",
    )
    LOSS_TYPE = param.Selector(
        default="sum_weigh_exp",
        doc=_doc("LOSS_TYPE", "Seed default 'first_spike' (the 'seed' and 'paper' presets use it); "
                 "the loss-shaping paper's exponentially weighted sum trains Yin-Yang more "
                 "reliably on the CPU defaults."),
    )
    TAU_0 = param.Number(default=0.5)
    TAU_1 = param.Number(default=6.4, doc=_doc("TAU_1", "Unused by 'first_spike'."))
    ALPHA = param.Number(default=3e-3)
    W_REPORT_INTERVAL = param.Integer(
        default=100,
        bounds=(1, None),
        label="Weight snapshot trial interval",
        doc="Save w_*_e{E}_t{T}.npy in trials that are multiples of this (and epochs that are "
        "multiples of W_EPOCH_INTERVAL).",
    )
    W_EPOCH_INTERVAL = param.Integer(
        default=10,
        bounds=(1, None),
        label="Weight snapshot epoch interval",
        doc="Epoch interval of the periodic weight snapshots (see W_REPORT_INTERVAL).",
    )
    TRAINING_PLOT = param.Boolean(
        default=False,
        label="Training plot (matplotlib)",
        doc="The original's live matplotlib plot; the lab replaces it. " + _NO_EFFECT,
    )
    TRAINING_PLOT_INTERVAL = param.Integer(
        default=10,
        bounds=(1, None),
        label="Training plot interval",
        doc="Trial interval of the original's live plot. " + _NO_EFFECT,
    )
    FANCY_PLOTS = param.Boolean(
        default=False,
        label="Fancy plots (matplotlib)",
        doc="The original's plot styling. " + _NO_EFFECT,
    )

    def __init__(self, **params):
        super().__init__(**params)
        self.PDROP_HIDDEN = self.PDROP

    @param.depends("PDROP", watch=True)
    def _sync_pdrop_hidden(self):
        # The engine reads the generic PDROP_HIDDEN; PDROP is the Yin-Yang table's name for it.
        self.PDROP_HIDDEN = self.PDROP


_CUDA_DOC = "GeNN's manual GPU selection in the original. " + _NO_EFFECT
_REDUCED_DOC = (
    "Classes to keep in training and test (None = all). Labels are not remapped; the output "
    "size stays C."
)


class MNISTParams(ModelParams):
    """MNIST (`simulator_MNIST.py`, spec §6.2, §8.2)."""

    experiment: ClassVar[str] = "mnist"

    TRIAL_MS = param.Number(default=20.0)
    N_MAX_SPIKE = param.Integer(default=50)
    N_EPOCH = param.Integer(default=20)
    N_TRAIN = param.Integer(
        default=55000,
        doc=_doc("N_TRAIN", "The first N_TRAIN images of the shuffled 60k training set."),
    )
    N_VALIDATE = param.Integer(
        default=5000,
        doc=_doc("N_VALIDATE", "The last N_VALIDATE images of the shuffled 60k training set."),
    )
    N_TEST = param.Integer(default=10000)
    NUM_INPUT = param.Integer(default=784, doc="784 = 28×28 pixels, one latency-coded spike each.")
    NUM_OUTPUT = param.Integer(default=10)
    NUM_HIDDEN = param.Integer(default=128)
    INPUT_HIDDEN_MEAN = param.Number(default=0.078)
    INPUT_HIDDEN_STD = param.Number(default=0.045)
    HIDDEN_OUTPUT_MEAN = param.Number(default=0.2)
    HIDDEN_OUTPUT_STD = param.Number(default=0.37)
    HIDDEN_HIDDEN_MEAN = param.Number(default=0.2)
    HIDDEN_HIDDEN_STD = param.Number(default=0.37)
    PDROP_INPUT = param.Number(default=0.2)
    LBD_UPPER = param.Number(default=5e-6)
    LBD_LOWER = param.Number(default=1e-3)
    NU_UPPER = param.Number(default=2.0)
    RHO_UPPER = param.Number(default=5000.0)
    GLB_UPPER = param.Number(default=1e-5)
    ETA = param.Number(default=0.01, doc=_doc("ETA", "README: 5e-3."))
    LOSS_TYPE = param.Selector(default="avg_xentropy")
    TAU_0 = param.Number(default=0.5)
    TAU_1 = param.Number(default=6.4)
    ALPHA = param.Number(default=3e-3)
    EVALUATION = param.Selector(
        default="random",
        objects=["random"],
        label="Validation split",
        doc="'random': the validation set is the last N_VALIDATE images of the shuffled training "
        "set (the original's MNIST simulator does not read this key).",
    )
    REDUCED_CLASSES = param.List(
        default=None,
        allow_None=True,
        label="Reduced class set",
        doc=_REDUCED_DOC + " The original crashes when it is set.",
    )
    CUDA_VISIBLE_DEVICES = param.Boolean(default=True, label="GeNN manual device", doc=_CUDA_DOC)
    # Project additions (not keys of the original's MNIST table): where the data comes from.
    DATA_SET = param.Selector(
        default="MNIST",
        objects=["MNIST", "synthetic"],
        label="Data set (project addition)",
        doc="Project addition, not a seed key. 'MNIST': LeCun's IDX files from DATA_DIR (a "
        "missing file is an error that says where to put it; `eventprop data download mnist` "
        "fetches them). 'synthetic': a small offline stand-in of 28×28 blob images, one class "
        "per blob position (eventprop.data.mnist.synthetic_digits), with the same latency code, "
        "splits and seeds; chosen explicitly, never as a silent fallback.",
    )
    DATA_DIR = param.String(
        default=None,
        allow_None=True,
        label="MNIST folder (project addition)",
        doc="Project addition, not a seed key. Folder holding the four MNIST IDX files (raw or "
        ".gz); None = the per-user folder ($EVENTPROP_DATA/mnist, else "
        "~/.cache/eventprop/mnist). CLI: --data-dir.",
    )


class SHDParams(ModelParams):
    """SHD and SSC (`simulator_SHD.py`, spec §6.3, §8.3); ``DATA_SET`` chooses the data set.

    ``NUM_OUTPUT`` defaults to None, meaning "from DATA_SET" (20 for SHD, 35 for SSC); use
    :meth:`n_classes` for the resolved value.
    """

    experiment: ClassVar[str] = "shd"
    _excluded_keys: ClassVar[frozenset] = frozenset({"N_TEST"})
    _supports_input_weighting: ClassVar[bool] = True

    N_TEST = param.Integer(
        default=None,
        precedence=-1,
        doc="Not a SHD/SSC key: the whole test split is always used.",
    )
    NUM_INPUT = param.Integer(
        default=700,
        doc="700 cochlea channels (also with RESCALE_X ≠ 1). With N_INPUT_DELAY = D the input "
        "population has 700·(D+1) neurons.",
    )
    NUM_OUTPUT = param.Integer(
        default=None,
        allow_None=True,
        doc="Number of output neurons = classes; None = from DATA_SET (SHD 20, SSC 35).",
    )
    INPUT_HIDDEN_MEAN = param.Number(doc=_doc("INPUT_HIDDEN_MEAN", "README: 0.078."))
    INPUT_HIDDEN_STD = param.Number(doc=_doc("INPUT_HIDDEN_STD", "README: 0.045."))
    HIDDEN_OUTPUT_MEAN = param.Number(doc=_doc("HIDDEN_OUTPUT_MEAN", "README: 0.2."))
    HIDDEN_OUTPUT_STD = param.Number(doc=_doc("HIDDEN_OUTPUT_STD", "README: 0.37."))
    HIDDEN_HIDDEN_MEAN = param.Number(doc=_doc("HIDDEN_HIDDEN_MEAN", "README: 0.2."))
    HIDDEN_HIDDEN_STD = param.Number(doc=_doc("HIDDEN_HIDDEN_STD", "README: 0.37."))
    PDROP_INPUT = param.Number(doc=_doc("PDROP_INPUT", "README: 0.2."))
    LBD_UPPER = param.Number(doc=_doc("LBD_UPPER", "README: 5e-6."))
    LBD_LOWER = param.Number(doc=_doc("LBD_LOWER", "README: 1e-3."))
    NU_UPPER = param.Number(doc=_doc("NU_UPPER", "README: 2."))
    RHO_UPPER = param.Number(doc=_doc("RHO_UPPER", "README: 5000."))
    GLB_UPPER = param.Number(doc=_doc("GLB_UPPER", "README: 1e-5."))
    ETA = param.Number(doc=_doc("ETA", "README: 5e-3."))

    PROFILE = param.Boolean(
        default=False,
        label="Profiling mode",
        doc="The original skipped device→host copies of losses and spike counts and printed "
        "build time and GPU memory. " + _NO_EFFECT,
    )
    TEST_ST_INTEGRITY = param.Boolean(
        default=False,
        label="Spike-array debug plots",
        doc="The original's debug plots of the spike arrays. " + _NO_EFFECT,
    )
    CUDA_VISIBLE_DEVICES = param.Boolean(default=True, label="GeNN manual device", doc=_CUDA_DOC)
    CHECKPOINT = param.Boolean(
        default=True,
        label="Save 'last' checkpoint",
        doc="Save the weights (and τ) with the label 'last' after every epoch.",
    )
    CHECKPOINT_BEST = param.Selector(
        default="neither",
        objects=["validation", "training", "neither"],
        label="Best-checkpoint criterion",
        doc="When to write NAME_best.txt and the 'best' checkpoint: when the validation "
        "('validation') or training ('training') accuracy improves, or never ('neither').",
    )
    CHECKPOINT_NAME = param.String(
        default=None,
        allow_None=True,
        label="Checkpoint file prefix",
        doc="Prefix of the checkpoint files loaded by LOAD_LAST / LOAD_BEST; None = NAME.",
    )
    LOAD_BEST = param.Boolean(
        default=False,
        label="Load best checkpoint",
        doc="Load the checkpoint labelled 'best' at the start of training.",
    )
    DATA_SET = param.Selector(
        default="SHD",
        objects=["SHD", "SSC"],
        label="Data set",
        doc="'SHD' (Spiking Heidelberg Digits, 20 classes) or 'SSC' (Spiking Speech Commands, "
        "35 classes). README: DATASET.",
    )
    DATA_BUFFER_NAME = param.String(
        default="./data/SSC/mySSC",
        label="SSC cache prefix",
        doc="Path prefix of the cached, preprocessed SSC arrays. " + _NO_EFFECT + " The binned "
        "sets are cached beside the .h5 files instead.",
    )
    DATA_DIR = param.String(
        default=None,
        allow_None=True,
        label="SHD/SSC folder (project addition)",
        doc="Project addition, not a seed key. Folder holding SHD/shd_*.h5 and SSC/ssc_*.h5 (or "
        "the files directly); None = $EVENTPROP_DATA, else ~/.cache/eventprop. "
        "`eventprop data download shd|ssc` fetches them. CLI: --data-dir.",
    )
    EVALUATION = param.Selector(
        default="random",
        objects=["random", "speaker", "validation_set"],
        label="Validation split",
        doc="'random': N_TRAIN/N_VALIDATE from a TRAIN_DATA_SEED permutation of the training set; "
        "'speaker': validate on all samples of speaker SPEAKER_LEFT[0] and train on the others; "
        "'validation_set': the official SSC validation split.",
    )
    SPEAKER_LEFT = param.List(
        default=[0],
        label="Left-out speakers",
        doc="Ordinals (into the sorted speaker ids) of the speakers left out for validation; "
        "cross-validation runs one fold per entry.",
    )
    REDUCED_CLASSES = param.List(
        default=None, allow_None=True, label="Reduced class set", doc=_REDUCED_DOC
    )
    RESCALE_T = param.Number(
        default=1.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="Time rescaling factor",
        doc="Spike times are multiplied by this factor before binning.",
    )
    RESCALE_X = param.Number(
        default=1.0,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        label="Channel rescaling factor",
        doc="Channels become floor(x·RESCALE_X); the number of inputs stays NUM_INPUT.",
    )
    BALANCE_TRAIN_CLASSES = param.Boolean(
        default=False,
        label="Balance training classes",
        doc="Each epoch, keep a random subset of every class of the size of the smallest class.",
    )
    BALANCE_EVAL_CLASSES = param.Boolean(
        default=False,
        label="Balance validation classes",
        doc="As BALANCE_TRAIN_CLASSES, for the validation set.",
    )
    AUGMENTATION = param.Dict(
        default={"NORMALISE_SPIKE_NUMBER": False},
        label="Augmentations",
        doc="Training-set augmentations, applied in insertion order: random_shift (s), "
        "random_dilate ([f_min, f_max]), ID_jitter (σ), blend ([p_1, ..., p_m]; needs N_TRAIN "
        "above the real sample count) and NORMALISE_SPIKE_NUMBER (bool, also thins evaluation "
        "data).",
    )
    EMA_ALPHA1 = param.Number(
        default=0.8,
        bounds=(0.0, 1.0),
        inclusive_bounds=(True, False),
        label="Fast accuracy EMA factor",
        doc="Factor of the fast exponential moving average of the accuracy (plateau rule).",
    )
    EMA_ALPHA2 = param.Number(
        default=0.95,
        bounds=(0.0, 1.0),
        inclusive_bounds=(True, False),
        label="Slow accuracy EMA factor",
        doc="Factor of the slow exponential moving average of the accuracy (plateau rule).",
    )
    ETA_FAC = param.Number(
        default=0.5,
        bounds=(0.0, 1.0),
        inclusive_bounds=(False, True),
        label="Learning-rate reduction factor",
        doc="The target learning rate is multiplied by this when the fast EMA drops to or below "
        "the slow EMA, at most every MIN_EPOCH_ETA_FIXED+1 epochs.",
    )
    MIN_EPOCH_ETA_FIXED = param.Integer(
        default=300,
        bounds=(0, None),
        label="Epochs between learning-rate reductions",
        doc="Minimum number of epochs after a reduction before the next one.",
    )
    LR_EASE_IN_FACTOR = param.Number(
        default=1.05,
        bounds=(1.0, None),
        label="Learning-rate ease-in factor",
        doc="The effective learning rate starts at ETA/1000 and is multiplied by this after "
        "every trial until it reaches the target learning rate.",
    )
    EMA_WHICH = param.Selector(
        default="validation",
        objects=["validation", "training"],
        label="Accuracy for the plateau rule",
        doc="Accuracy fed to the EMA plateau rule: 'validation' or 'training' (the original "
        "uses the training accuracy for any value other than 'validation').",
    )
    TAU_OUTPUT_EPOCH_TRIAL = param.List(
        default=[],
        label="τ snapshots [epoch, trial]",
        doc="List of [epoch, trial] pairs after which the trained τm and τs are saved.",
    )

    def n_classes(self) -> int:
        """NUM_OUTPUT if set, else the class count of DATA_SET (SHD 20, SSC 35)."""
        if self.NUM_OUTPUT is not None:
            return int(self.NUM_OUTPUT)
        return _DATA_SET_CLASSES[self.DATA_SET]


class DVSGestureParams(SHDParams):
    """DVS gesture (the original's ``DVSG_model``, experimental and broken there): the IBM DVS128
    Gesture recordings down-sampled to a W × H × 2 event frame, 11 classes.

    The original's DVS simulator is a variant of its SHD simulator, so this table is the SHD table
    without the keys that only concern SHD/SSC (DATA_SET, SPEAKER_LEFT, RESCALE_X,
    DATA_BUFFER_NAME, the input accumulator), plus the event-camera keys DVS_DOWNSAMPLE,
    DVS_START_MS and the user split (EVALUATION 'user', USER_LEFT).  The defaults are the
    ``dvs-base`` CPU settings; the ``seed`` preset restores the original's table (Δ 0.1 ms,
    T 18000 ms, N_MAX_SPIKE 3000, N_TRAIN 1045, N_VALIDATE 32), which is impractical on a CPU.
    ``NUM_INPUT`` follows DVS_DOWNSAMPLE (W·H·2).
    """

    experiment: ClassVar[str] = "dvs_gesture"
    _excluded_keys: ClassVar[frozenset] = frozenset({
        "N_TEST", "DATA_SET", "DATA_BUFFER_NAME", "SPEAKER_LEFT", "RESCALE_X", "TAU_ACCUMULATOR",
    })
    _supports_input_weighting: ClassVar[bool] = False

    DT_MS = param.Number(default=2.0, doc=_doc("DT_MS", "Seed default 0.1."))
    TRIAL_MS = param.Number(
        default=1000.0,
        doc="Length T of one trial in ms: the part of each recording from DVS_START_MS on that is "
        "shown (longer recordings are cut, shorter ones end in silence). Seed default 18000 "
        "(whole recordings).",
    )
    N_MAX_SPIKE = param.Integer(default=500, doc=_doc("N_MAX_SPIKE", "Seed default 3000."))
    N_EPOCH = param.Integer(default=50)
    N_TRAIN = param.Integer(
        default=969,
        doc=_doc("N_TRAIN", "Seed default 1045 (of the 1077 training gestures)."),
    )
    N_VALIDATE = param.Integer(
        default=108,
        doc=_doc("N_VALIDATE", "Seed default 32; 108 here, a tenth of the training split."),
    )
    NUM_INPUT = param.Integer(
        default=2048,
        doc="Input channels W·H·2 of the down-sampled event frame, channel (y·W + x)·2 + p: 2048 "
        "for DVS_DOWNSAMPLE 0.25 (32×32 pixels, 2 polarities). Follows DVS_DOWNSAMPLE.",
    )
    NUM_OUTPUT = param.Integer(default=11, allow_None=False,
                               doc="Number of output neurons = the 11 gesture classes.")
    RECURRENT = param.Boolean(default=True, doc=_doc("RECURRENT", "Seed default False."))
    INPUT_HIDDEN_MEAN = param.Number(default=0.01, doc=_doc("INPUT_HIDDEN_MEAN",
                                                             "Seed default 0.02."))
    INPUT_HIDDEN_STD = param.Number(default=0.01, doc=_doc("INPUT_HIDDEN_STD",
                                                            "Seed default 0.01."))
    HIDDEN_OUTPUT_STD = param.Number(default=0.03, doc=_doc("HIDDEN_OUTPUT_STD",
                                                            "Seed default 0.3."))
    REG_TYPE = param.Selector(default="simple", doc=_doc("REG_TYPE", "Seed default 'none'."))
    LBD_UPPER = param.Number(default=5e-10, doc=_doc("LBD_UPPER", "Seed default 2e-9."))
    LBD_LOWER = param.Number(default=5e-10, doc=_doc("LBD_LOWER", "Seed default 2e-9."))
    AVG_SNSUM = param.Boolean(default=True, doc=_doc("AVG_SNSUM", "Seed default False."))
    EVALUATION = param.Selector(
        default="random",
        objects=["random", "user"],
        label="Validation split",
        doc="'random' (the original's): N_TRAIN/N_VALIDATE from a TRAIN_DATA_SEED permutation of "
        "the training split; 'user' (project addition): validate on every gesture of the users "
        "in USER_LEFT[0] and train on the other users.",
    )
    USER_LEFT = param.List(
        default=[[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [13, 14, 15, 16, 17, 18],
                 [19, 20, 21, 22, 23]],
        label="Left-out users (project addition)",
        doc="Project addition, not a seed key. Folds of users (ids as in the folder names, "
        "user07 = 7; the training split has users 1-23) left out for validation: each entry a "
        "user id or a list of ids. EVALUATION 'user' validates on the first entry; "
        "cross-validation runs one fold per entry.",
    )
    RESCALE_T = param.Number(
        default=1.0,
        doc="Event times (ms after DVS_START_MS) are multiplied by this factor before binning: "
        "0.5 shows twice as much of each recording in TRIAL_MS, played twice as fast.",
    )
    AUGMENTATION = param.Dict(
        default={"random_shift_xy": 2, "random_dilate": [0.9, 1.1]},
        label="Augmentations",
        doc="Training-set augmentations, applied in insertion order: random_shift_xy (s: the "
        "event frame moved by up to s pixels in x and y, per gesture), random_dilate "
        "([f_min, f_max]: time stretched) and NORMALISE_SPIKE_NUMBER (bool). The channel "
        "augmentations of SHD (random_shift, ID_jitter, blend) would scramble pixels and are "
        "rejected. Seed default {'NORMALISE_SPIKE_NUMBER': False}.",
    )
    DVS_DOWNSAMPLE = param.Number(
        default=0.25,
        bounds=(0.0, 1.0),
        inclusive_bounds=(False, True),
        label="Spatial down-sampling factor",
        doc="Pixel (x, y) of the 128×128 sensor becomes (floor(x·f), floor(y·f)) of a W×W frame, "
        "W = floor(127·f) + 1 (the original: 0.25, 32×32). Sets NUM_INPUT = W·W·2.",
    )
    DVS_START_MS = param.Number(
        default=0.0,
        bounds=(0.0, None),
        label="Recording start offset (ms, project addition)",
        doc="Project addition, not a seed key. The trial starts this many ms into each recording "
        "(events before it are dropped).",
    )
    DATA_DIR = param.String(
        default=None,
        allow_None=True,
        label="Data folder (project addition)",
        doc="Project addition, not a seed key. Folder holding DVSGesture/ibmGestureTrain and "
        "DVSGesture/ibmGestureTest (tonic's layout); None = $EVENTPROP_DATA, else "
        "~/.cache/eventprop. `eventprop data download dvs_gesture` fetches them. CLI: --data-dir.",
    )

    def __init__(self, **params):
        super().__init__(**params)
        self._sync_num_input()

    @param.depends("DVS_DOWNSAMPLE", watch=True)
    def _sync_num_input(self):
        self.NUM_INPUT = dvs_input_channels(self.DVS_DOWNSAMPLE)

    def n_classes(self) -> int:
        """NUM_OUTPUT (11 gesture classes by default)."""
        return int(self.NUM_OUTPUT) if self.NUM_OUTPUT is not None else 11


def dvs_input_channels(downsample: float) -> int:
    """Input channels W·W·2 for DVS_DOWNSAMPLE ``f`` (W = floor(127·f) + 1); the formula lives
    with the data (:func:`eventprop.data.dvs_gesture.n_input_channels`)."""
    from eventprop.data.dvs_gesture import n_input_channels

    return n_input_channels(downsample)


# ---------------------------------------------------------------------------------------------
# Registry and groups

PARAM_CLASSES: dict[str, type[ModelParams]] = {
    "yinyang": YinYangParams,
    "mnist": MNISTParams,
    "shd": SHDParams,
    "ssc": SHDParams,
    "dvs_gesture": DVSGestureParams,
}
EXPERIMENTS = tuple(PARAM_CLASSES)

# Values an experiment name sets on top of its class defaults.
_EXPERIMENT_PRESETS: dict[str, dict[str, Any]] = {"ssc": {"DATA_SET": "SSC"}}

#: Group name -> keys, in display order.  Across all classes; each class has every one of its keys
#: in exactly one group (use :func:`groups_for` for one class's keys).
GROUPS: dict[str, list[str]] = {
    "General": [
        "NAME", "OUT_DIR", "MODEL_SEED", "TRAIN_DATA_SEED", "TEST_DATA_SEED", "LOAD_LAST",
        "LOAD_BEST", "CHECKPOINT", "CHECKPOINT_BEST", "CHECKPOINT_NAME", "WRITE_TO_DISK", "BUILD",
        "TIMING", "PROFILE", "CUDA_VISIBLE_DEVICES", "TEST_ST_INTEGRITY",
    ],
    "Experiment": [
        "DATA_SET", "DT_MS", "TRIAL_MS", "N_MAX_SPIKE", "N_BATCH", "N_EPOCH", "N_TRAIN",
        "N_VALIDATE", "N_TEST", "SHUFFLE", "EVALUATION", "SPEAKER_LEFT", "USER_LEFT",
        "REDUCED_CLASSES", "RESCALE_T", "RESCALE_X", "DVS_DOWNSAMPLE", "DVS_START_MS",
        "BALANCE_TRAIN_CLASSES", "BALANCE_EVAL_CLASSES", "AUGMENTATION", "DATA_BUFFER_NAME",
        "DATA_DIR",
    ],
    "Network structure": [
        "NUM_INPUT", "NUM_HIDDEN", "NUM_OUTPUT", "N_HID_LAYER", "RECURRENT", "HIDDEN_NEURON_TYPE",
        "OUTPUT_NEURON_TYPE", "N_INPUT_DELAY", "INPUT_DELAY",
    ],
    "Model": [
        "TAU_MEM", "TAU_SYN", "V_THRESH", "V_RESET", "TAU_B", "B_INCR", "B_INIT",
        "INPUT_HIDDEN_MEAN", "INPUT_HIDDEN_STD", "HIDDEN_OUTPUT_MEAN", "HIDDEN_OUTPUT_STD",
        "HIDDEN_HIDDEN_MEAN", "HIDDEN_HIDDEN_STD", "HIDDEN_HIDDENFWD_MEAN", "HIDDEN_HIDDENFWD_STD",
        "PDROP_INPUT", "PDROP_HIDDEN", "PDROP", "HIDDEN_NOISE",
    ],
    "Learning": [
        "ETA", "ETA_DECAY", "ADAM_BETA1", "ADAM_BETA2", "ADAM_EPS", "SCHEDULE", "GENN_BACKEND", "GENN_TIMEOUT",
        "LR_EASE_IN_FACTOR",
        "EMA_WHICH", "EMA_ALPHA1", "EMA_ALPHA2", "ETA_FAC", "MIN_EPOCH_ETA_FIXED", "TRAIN_W",
        "TRAIN_W_OUTPUT", "TRAIN_TAU", "TRAIN_TAU_OUTPUT", "MIN_TAU_M", "MIN_TAU_SYN", "REG_TYPE",
        "LBD_UPPER", "LBD_LOWER", "NU_UPPER", "RHO_UPPER", "GLB_UPPER", "AVG_SNSUM",
        "REWIRE_SILENT", "REWIRE_LIFT", "REWIRE_LIFT_MODE",
    ],
    "Loss": ["LOSS_TYPE", "TAU_0", "TAU_1", "ALPHA", "TAU_ACCUMULATOR"],
    "Recording": [
        "REC_SPIKES", "REC_SPIKES_EPOCH_TRIAL", "REC_NEURONS", "REC_NEURONS_EPOCH_TRIAL",
        "REC_SYNAPSES", "REC_SYNAPSES_EPOCH_TRIAL", "SPK_REC_STEPS", "W_OUTPUT_EPOCH_TRIAL",
        "TAU_OUTPUT_EPOCH_TRIAL", "W_REPORT_INTERVAL", "W_EPOCH_INTERVAL", "COLLECT_CONFUSION",
        "REC_PREDICTIONS", "DEBUG_HIDDEN_N", "TRAINING_PLOT", "TRAINING_PLOT_INTERVAL",
        "FANCY_PLOTS",
    ],
}

_GROUP_OF = {key: group for group, keys in GROUPS.items() for key in keys}


def _params_class(params_or_cls) -> type[ModelParams]:
    if isinstance(params_or_cls, type) and issubclass(params_or_cls, ModelParams):
        return params_or_cls
    if isinstance(params_or_cls, ModelParams):
        return type(params_or_cls)
    raise TypeError(f"expected a ModelParams instance or subclass, got {params_or_cls!r}")


def param_keys(params_or_cls) -> list[str]:
    """The seed keys of a parameter class or instance, in declaration order (no 'name')."""
    cls = _params_class(params_or_cls)
    return [k for k in cls.param if k != "name" and k not in cls._excluded_keys]


def groups_for(params_or_cls) -> dict[str, list[str]]:
    """:data:`GROUPS` restricted to the keys of one class (groups without keys are left out)."""
    keys = set(param_keys(params_or_cls))
    out = {}
    for group, members in GROUPS.items():
        mine = [k for k in members if k in keys]
        if mine:
            out[group] = mine
    return out


def describe(params_or_cls, key: str) -> tuple[str, str, str]:
    """``(label, doc, group)`` of one key, for the lab's tables and tooltips."""
    cls = _params_class(params_or_cls)
    if key not in param_keys(cls):
        raise ParameterError(_unknown_key_message(cls, key, cls.experiment), key)
    p = cls.param[key]
    return p.label, p.doc or "", _GROUP_OF.get(key, "General")


def n_steps(params) -> int:
    """Steps per trial, S = round(TRIAL_MS / DT_MS)."""
    return int(round(params.TRIAL_MS / params.DT_MS))


# ---------------------------------------------------------------------------------------------
# Value checking and coercion


def _fmt(x) -> str:
    return repr(x) if isinstance(x, str) else str(x)


def _range_text(p: param.Parameter) -> str:
    """Human-readable range of a numeric parameter, e.g. '> 0', 'in [0, 1)'."""
    lo, hi = p.bounds if p.bounds is not None else (None, None)
    inc_lo, inc_hi = p.inclusive_bounds
    if lo is not None and hi is not None:
        return f"in {'[' if inc_lo else '('}{lo:g}, {hi:g}{']' if inc_hi else ')'}"
    if lo is not None:
        return f"{'>=' if inc_lo else '>'} {lo:g}"
    if hi is not None:
        return f"{'<=' if inc_hi else '<'} {hi:g}"
    return "a finite number"


def _in_bounds(p: param.Parameter, x) -> bool:
    if p.bounds is None:
        return True
    lo, hi = p.bounds
    inc_lo, inc_hi = p.inclusive_bounds
    if lo is not None and (x < lo or (x == lo and not inc_lo)):
        return False
    if hi is not None and (x > hi or (x == hi and not inc_hi)):
        return False
    return True


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"none", "null"}


def _expected(p: param.Parameter) -> str:
    """What a parameter accepts, for error messages."""
    if isinstance(p, param.Boolean):
        text = "true or false"
    elif isinstance(p, param.Integer):
        text = f"an integer {_range_text(p)}" if p.bounds else "an integer"
    elif isinstance(p, param.Number):
        text = f"a number {_range_text(p)}" if p.bounds else "a finite number"
    elif isinstance(p, param.Selector):
        text = "one of " + ", ".join(repr(o) for o in p.objects)
    elif isinstance(p, param.List):
        text = "a list (JSON, e.g. [1, 2])"
    elif isinstance(p, param.Dict):
        text = 'a dict (JSON, e.g. {"random_shift": 40})'
    else:
        text = "a string"
    if p.allow_None:
        text += " or None"
    return text


def _coerce(cls: type[ModelParams], key: str, value):
    """Convert ``value`` (from JSON, the CLI or Python) to the type of parameter ``key`` and check
    its range; raise ParameterError naming the key, the value and what is allowed."""
    p = cls.param[key]

    def bad(reason: str | None = None):
        msg = f"{key} must be {_expected(p)} (got {_fmt(value)})"
        if reason:
            msg += f": {reason}"
        return ParameterError(msg, key)

    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE
                         and not isinstance(p, param.String | param.Selector)):
        if p.allow_None:
            return None
        raise bad()

    if isinstance(p, param.Boolean):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            s = value.strip().lower()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
        raise bad()

    if isinstance(p, param.Number):  # Integer is a Number
        x = value
        if isinstance(x, str):
            try:
                x = float(x.strip()) if not isinstance(p, param.Integer) else _parse_int(x)
            except ValueError:
                raise bad() from None
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise bad()
        if isinstance(p, param.Integer):
            if isinstance(x, float):
                if not (math.isfinite(x) and x == int(x)):
                    raise bad()
                x = int(x)
        else:
            x = float(x)
            if not math.isfinite(x):
                raise bad()
        if not _in_bounds(p, x):
            raise ParameterError(f"{key} must be {_range_text(p)} (got {_fmt(value)})", key)
        return x

    if isinstance(p, param.Selector):
        if isinstance(value, str) and value in p.objects:
            return value
        msg = f"{key} must be one of {', '.join(repr(o) for o in p.objects)} (got {_fmt(value)})"
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [str(o) for o in p.objects], n=1, cutoff=0.5)
            if close:
                msg += f"; did you mean {close[0]!r}?"
        raise ParameterError(msg, key)

    if isinstance(p, param.List):
        x = value
        if isinstance(x, str):
            try:
                x = json.loads(x)
            except json.JSONDecodeError as e:
                raise bad(f"not valid JSON ({e.msg})") from None
            if x is None and p.allow_None:
                return None
        if isinstance(x, tuple):
            x = list(x)
        if not isinstance(x, list):
            raise bad()
        return copy.deepcopy(x)

    if isinstance(p, param.Dict):
        x = value
        if isinstance(x, str):
            try:
                x = json.loads(x)
            except json.JSONDecodeError as e:
                raise bad(f"not valid JSON ({e.msg})") from None
        if not isinstance(x, dict):
            raise bad()
        return copy.deepcopy(x)

    # String
    if not isinstance(value, str):
        raise bad()
    return value


def _parse_int(text: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return float(text)  # "1e3" or "5000.0": accepted if integral (checked by the caller)


def _unknown_key_message(cls: type[ModelParams], key: str, experiment: str) -> str:
    valid = param_keys(cls)
    upper = key.upper()
    if upper in valid:
        guess = upper
    else:
        guess = (difflib.get_close_matches(upper, valid, n=1, cutoff=0.0) or [None])[0]
    msg = f"unknown parameter {key!r} for experiment {experiment!r}"
    if guess:
        msg += f"; did you mean {guess!r}?"
    return msg


def _resolve_key(cls: type[ModelParams], key: str, experiment: str) -> str | None:
    """The parameter that ``key`` sets, or None for an ignored key (after warning)."""
    if not isinstance(key, str):
        raise ParameterError(f"parameter names must be strings (got {key!r})")
    keys = param_keys(cls)
    if key in keys:
        return key
    if key in cls._aliases:
        return cls._aliases[key]
    if key in DEPRECATED_ALIASES:
        new = DEPRECATED_ALIASES[key]
        warnings.warn(
            f"{key} is a deprecated alias of {new}; its value is used for {new}",
            IgnoredParameterWarning,
            stacklevel=4,
        )
        return new
    if key in IGNORED_KEYS:
        warnings.warn(
            f"parameter {key} is ignored for experiment {experiment!r} ({IGNORED_KEYS[key]})",
            IgnoredParameterWarning,
            stacklevel=4,
        )
        return None
    raise ParameterError(_unknown_key_message(cls, key, experiment), key)


def _experiment_of(params: ModelParams) -> str:
    if isinstance(params, SHDParams) and params.DATA_SET == "SSC":
        return "ssc"
    return type(params).experiment


def set_value(params: ModelParams, key: str, value) -> ModelParams:
    """Set one seed key from a Python/JSON value, with the loaders' key rules (aliases, ignored
    keys, closest-key suggestion) and a ParameterError for a bad value.  Returns ``params``.

    Cross-field consistency is checked by :func:`validate`, not here."""
    target = _resolve_key(type(params), key, _experiment_of(params))
    if target is not None:
        _assign(params, target, value)
    return params


def _assign(params: ModelParams, target: str, value) -> None:
    cls = type(params)
    x = _coerce(cls, target, value)
    if target in cls._fixed_values:
        fixed = cls._fixed_values[target]
        if x != fixed:
            raise ParameterError(
                f"{target} is fixed at {fixed} for experiment {cls.experiment!r} "
                f"(got {_fmt(value)})",
                target,
            )
        return
    try:
        setattr(params, target, x)
    except (ValueError, TypeError) as e:  # param's own checks; _coerce should have caught them
        raise ParameterError(f"{target} must be {_expected(cls.param[target])}: {e}", target) from e


def parse_set(params: ModelParams, assignment: str) -> ModelParams:
    """Apply one CLI ``--set KEY=VALUE`` to ``params`` (in place; returns ``params``).

    VALUE is parsed according to the parameter's type: numbers (``1e-3``; integers also as
    ``5000.0``), booleans (``true/false/1/0/yes/no/on/off``), ``None``/``null`` where allowed,
    strings as given (surrounding quotes removed), lists and dicts as JSON
    (``AUGMENTATION='{"random_shift": 40}'``)."""
    if not isinstance(assignment, str) or "=" not in assignment:
        raise ParameterError(
            f"--set expects KEY=VALUE, e.g. NUM_HIDDEN=512 (got {assignment!r})"
        )
    key, _, text = assignment.partition("=")
    key, text = key.strip(), text.strip()
    if not key:
        raise ParameterError(f"--set expects KEY=VALUE with a non-empty KEY (got {assignment!r})")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    target = _resolve_key(type(params), key, _experiment_of(params))
    if target is None:
        return params
    value = text
    if text.lower() in _NONE and type(params).param[target].allow_None:
        value = None  # also for string parameters such as CHECKPOINT_NAME
    _assign(params, target, value)
    return params


# ---------------------------------------------------------------------------------------------
# Building, loading, saving


def make_params(experiment, values: dict | None = None, **overrides) -> ModelParams:
    """Parameters of ``experiment`` (a name from :data:`PARAM_CLASSES`, or a ModelParams subclass)
    with ``values`` (a seed-style dict) and then ``overrides`` applied, validated.

    Ignored keys warn (:class:`IgnoredParameterWarning`) and are dropped; ``TRAIN_TAUM`` sets
    ``TRAIN_TAU`` unless ``TRAIN_TAU`` is also given.  Raises ParameterError for an unknown
    experiment, an unknown key, a bad value or an inconsistent combination."""
    if isinstance(experiment, type) and issubclass(experiment, ModelParams):
        cls, name = experiment, experiment.experiment
    else:
        if not isinstance(experiment, str) or experiment.lower() not in PARAM_CLASSES:
            raise ParameterError(
                f"unknown experiment {experiment!r}; valid experiments: {', '.join(EXPERIMENTS)}"
            )
        name = experiment.lower()
        cls = PARAM_CLASSES[name]
    if values is not None and not isinstance(values, dict):
        raise ParameterError(
            f"parameter values must be a dict of KEY: value (got {type(values).__name__})"
        )
    merged = dict(values or {})
    merged.update(overrides)
    for alias, new in DEPRECATED_ALIASES.items():
        if alias in merged and new in merged:
            warnings.warn(
                f"{alias} is a deprecated alias of {new}; both are given, so {alias} is ignored",
                IgnoredParameterWarning,
                stacklevel=2,
            )
            del merged[alias]

    params = cls()
    for key, value in _EXPERIMENT_PRESETS.get(name, {}).items():
        setattr(params, key, value)
    for key, value in merged.items():
        set_value(params, key, value)
    preset_data_set = _EXPERIMENT_PRESETS.get(name, {}).get("DATA_SET")
    if preset_data_set is not None and params.DATA_SET != preset_data_set:
        raise ParameterError(
            f"experiment {name!r} requires DATA_SET={preset_data_set!r} (got {params.DATA_SET!r}); "
            f"use experiment {params.DATA_SET.lower()!r} instead",
            "DATA_SET",
        )
    validate(params)
    return params


def load_params_json(path, experiment) -> ModelParams:
    """Parameters from a seed-style JSON file: one flat object of KEY: value pairs."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"parameter file {str(path)!r} does not exist") from None
    except OSError as e:
        raise ParameterError(f"cannot read parameter file {str(path)!r}: {e.strerror}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as e:
        raise ParameterError(
            f"parameter file {str(path)!r} is not valid JSON: {e.msg} at line {e.lineno}, "
            f"column {e.colno}"
        ) from None
    if not isinstance(values, dict):
        raise ParameterError(
            f"parameter file {str(path)!r} must hold one JSON object of KEY: value pairs "
            f"(got a {type(values).__name__})"
        )
    try:
        return make_params(experiment, values)
    except ParameterError as e:
        raise ParameterError(f"{path}: {e}", e.key) from None


def to_dict(params: ModelParams) -> dict:
    """The seed keys and values of ``params`` as a JSON-serialisable dict (no 'name')."""
    out = {}
    for key in param_keys(params):
        value = getattr(params, key)
        if isinstance(value, tuple):
            value = list(value)
        out[key] = copy.deepcopy(value)
    return out


def save_params_json(params: ModelParams, path) -> Path:
    """Write :func:`to_dict` of ``params`` to ``path`` as JSON, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(to_dict(params), f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# ---------------------------------------------------------------------------------------------
# Cross-field validation


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _check_epoch_trial(key: str, value, problems: list[str]):
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2
                and all(_is_int(v) and v >= 0 for v in item)):
            problems.append(
                f"{key} must be a list of [epoch, trial] pairs of integers >= 0 (got {item!r})"
            )
            return


def _check_pairs(key: str, value, problems: list[str], what: str):
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2
                and all(isinstance(v, str) for v in item)):
            problems.append(f"{key} must be a list of [{what}, variable] pairs of strings "
                            f"(got {item!r})")
            return


def _check_augmentation(aug: dict, problems: list[str]):
    for name, value in aug.items():
        if name not in AUGMENTATION_KEYS:
            close = difflib.get_close_matches(str(name), list(AUGMENTATION_KEYS), n=1, cutoff=0.0)
            problems.append(
                f"AUGMENTATION has the unknown key {name!r}; did you mean {close[0]!r}? "
                f"(valid: {', '.join(AUGMENTATION_KEYS)})"
            )
            continue
        ok = True
        if name in ("random_shift", "ID_jitter"):
            ok = _is_num(value) and value >= 0
        elif name == "random_dilate":
            ok = (isinstance(value, list | tuple) and len(value) == 2
                  and all(_is_num(v) for v in value) and 0 < value[0] <= value[1])
        elif name == "blend":
            ok = (isinstance(value, list | tuple) and len(value) > 0
                  and all(_is_num(v) and 0 <= v <= 1 for v in value))
        elif name == "random_shift_xy":
            ok = _is_int(value) and value >= 0
        elif name == "NORMALISE_SPIKE_NUMBER":
            ok = isinstance(value, bool)
        if not ok:
            problems.append(
                f"AUGMENTATION[{name!r}] must be {AUGMENTATION_KEYS[name]} (got {value!r})"
            )


def _check_dvs(p: DVSGestureParams, problems: list[str]):
    n_in = dvs_input_channels(p.DVS_DOWNSAMPLE)
    if p.NUM_INPUT != n_in:
        side = math.isqrt(n_in // 2)
        problems.append(f"NUM_INPUT must be {side}·{side}·2 = {n_in} for DVS_DOWNSAMPLE "
                        f"{p.DVS_DOWNSAMPLE:g} (got {p.NUM_INPUT}); leave it out, it follows "
                        "DVS_DOWNSAMPLE")
    for entry in p.USER_LEFT:
        users = entry if isinstance(entry, list | tuple) else [entry]
        if not users or not all(_is_int(u) and u >= 1 for u in users):
            problems.append(f"USER_LEFT must be a list of folds, each a user id >= 1 or a "
                            f"non-empty list of them (got {p.USER_LEFT!r})")
            break
    if p.EVALUATION == "user" and not p.USER_LEFT:
        problems.append("USER_LEFT must name at least one fold of users when EVALUATION is "
                        "'user' (got [])")
    for name in ("random_shift", "ID_jitter", "blend"):
        if name in p.AUGMENTATION:
            problems.append(f"AUGMENTATION[{name!r}] moves channel ids, which for an event "
                            "camera scrambles pixels and polarities; use random_shift_xy")


def validate(params: ModelParams) -> ModelParams:
    """Check every value's range and the combinations the engines rely on; raise one
    ParameterError listing every problem (each line names the parameter).  Returns ``params``."""
    cls = type(params)
    problems: list[str] = []

    # Single values (param enforces these on assignment; checked again for objects built
    # around the loaders).
    for key in param_keys(cls):
        try:
            _coerce(cls, key, getattr(params, key))
        except ParameterError as e:
            problems.append(str(e))
    for key, fixed in cls._fixed_values.items():
        if getattr(params, key) != fixed:
            problems.append(f"{key} is fixed at {fixed} for experiment {cls.experiment!r} "
                            f"(got {getattr(params, key)})")
    if problems:
        raise ParameterError("; ".join(problems), _first_key(problems))

    p = params
    if not p.NAME or any(c in p.NAME for c in "/\\"):
        problems.append(f"NAME must be a non-empty file-name prefix without '/' or '\\' "
                        f"(got {p.NAME!r})")
    if not p.OUT_DIR:
        problems.append("OUT_DIR must be a non-empty directory path (got '')")
    if p.DT_MS >= p.TRIAL_MS:
        problems.append(f"DT_MS must be < TRIAL_MS = {p.TRIAL_MS:g} (got {p.DT_MS:g})")
    if p.V_THRESH <= p.V_RESET:
        problems.append(f"V_THRESH must be > V_RESET = {p.V_RESET:g} (got {p.V_THRESH:g})")

    if p.HIDDEN_NEURON_TYPE == "ALIF":
        if p.REG_TYPE != "simple":
            problems.append(f"HIDDEN_NEURON_TYPE 'ALIF' requires REG_TYPE 'simple' "
                            f"(got REG_TYPE {p.REG_TYPE!r})")
        if p.TRAIN_TAU:
            problems.append("HIDDEN_NEURON_TYPE 'ALIF' cannot be combined with TRAIN_TAU=True "
                            "(the original silently builds a LIF layer instead)")
        if p.HIDDEN_NOISE > 0:
            problems.append("HIDDEN_NEURON_TYPE 'ALIF' cannot be combined with HIDDEN_NOISE > 0 "
                            "(the original silently builds a noisy LIF layer instead)")
    if p.TRAIN_TAU and p.REG_TYPE != "simple":
        problems.append(f"TRAIN_TAU=True requires REG_TYPE 'simple' (got REG_TYPE {p.REG_TYPE!r}; "
                        f"the original crashes)")
    if p.TRAIN_TAU_OUTPUT and p.LOSS_TYPE != "sum_weigh_exp":
        problems.append(f"TRAIN_TAU_OUTPUT=True requires LOSS_TYPE 'sum_weigh_exp' "
                        f"(got LOSS_TYPE {p.LOSS_TYPE!r})")
    if p.LOSS_TYPE == "sum_weigh_input" and not cls._supports_input_weighting:
        problems.append(f"LOSS_TYPE 'sum_weigh_input' is only available for SHD/SSC "
                        f"(experiment {cls.experiment!r})")

    for key in ("REC_SPIKES_EPOCH_TRIAL", "REC_NEURONS_EPOCH_TRIAL", "REC_SYNAPSES_EPOCH_TRIAL",
                "W_OUTPUT_EPOCH_TRIAL", "TAU_OUTPUT_EPOCH_TRIAL"):
        if key in cls.param and key not in cls._excluded_keys:
            _check_epoch_trial(key, getattr(p, key), problems)
    if not all(isinstance(v, str) for v in p.REC_SPIKES):
        problems.append(f"REC_SPIKES must be a list of population names (got {p.REC_SPIKES!r})")
    _check_pairs("REC_NEURONS", p.REC_NEURONS, problems, "population")
    _check_pairs("REC_SYNAPSES", p.REC_SYNAPSES, problems, "synapse population")

    if "REDUCED_CLASSES" in cls.param and p.REDUCED_CLASSES is not None:
        c = p.n_classes()
        if not p.REDUCED_CLASSES or not all(_is_int(v) and 0 <= v < c for v in p.REDUCED_CLASSES):
            problems.append(f"REDUCED_CLASSES must be None or a non-empty list of class indices "
                            f"in [0, {c}) (got {p.REDUCED_CLASSES!r})")

    if isinstance(p, SHDParams):
        # NUM_OUTPUT may differ from the data set's class count (small networks built through the
        # gradient API, synthetic tasks); the data pipeline checks labels against it.
        if p.EVALUATION == "validation_set" and p.DATA_SET != "SSC":
            problems.append("EVALUATION 'validation_set' requires DATA_SET 'SSC' "
                            "(SHD has no official validation split)")
        if not all(_is_int(v) and v >= 0 for v in p.SPEAKER_LEFT):
            problems.append(f"SPEAKER_LEFT must be a list of speaker ordinals >= 0 "
                            f"(got {p.SPEAKER_LEFT!r})")
        if p.EVALUATION == "speaker" and not p.SPEAKER_LEFT:
            problems.append("SPEAKER_LEFT must name at least one speaker when EVALUATION is "
                            "'speaker' (got [])")
        _check_augmentation(p.AUGMENTATION, problems)
        if isinstance(p, DVSGestureParams):
            _check_dvs(p, problems)
        elif "random_shift_xy" in p.AUGMENTATION:
            problems.append("AUGMENTATION['random_shift_xy'] moves the pixels of an event-camera "
                            "frame; it is for dvs_gesture, not for the 700 SHD/SSC channels")

    if problems:
        raise ParameterError("; ".join(problems), _first_key(problems))
    return params


def _first_key(problems: list[str]) -> str | None:
    head = problems[0].split(" ", 1)[0].split("[", 1)[0]
    return head if head.isupper() else None
