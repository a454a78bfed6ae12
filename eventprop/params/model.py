"""The generic table :class:`ModelParams`: every key the engines and the trainer use.

Also the helpers every table and loader shares: :func:`param_keys` (a table's keys),
:func:`inherit_doc` (an experiment's doc text built on the generic one) and :func:`n_steps`.
"""

from __future__ import annotations

from typing import ClassVar

import param

from .keys import HIDDEN_NEURON_TYPES, LOSS_TYPES, OUTPUT_NEURON_TYPES, REG_TYPES

__all__ = [
    "ModelParams",
    "NO_EFFECT",
    "CUDA_DOC",
    "REDUCED_CLASSES_DOC",
    "inherit_doc",
    "note",
    "flag",
    "text",
    "items",
    "choice",
    "number",
    "positive",
    "non_negative",
    "probability",
    "fraction",
    "count",
    "normal_init",
    "params_class",
    "param_keys",
    "n_steps",
]

NO_EFFECT = "No effect in this port (accepted so that the original's parameter files load)."

CUDA_DOC = "GeNN's manual GPU selection in the original. " + NO_EFFECT
REDUCED_CLASSES_DOC = (
    "Classes to keep in training and test (None = all). Labels are not remapped; the output "
    "size stays C."
)

# -- declaring a key ------------------------------------------------------------------------------
# Each key is one param object; these build the kinds that recur, so a table row says its default,
# label and doc and the kind of value it holds, not the bounds of that kind again.


def flag(default: bool, label: str, doc: str, **extra) -> param.Boolean:
    """A true/false key."""
    return param.Boolean(default=default, label=label, doc=doc, **extra)


def text(default: str | None, label: str, doc: str, **extra) -> param.String:
    """A string (names, folders)."""
    return param.String(default=default, label=label, doc=doc, **extra)


def items(default: list | None, label: str, doc: str, **extra) -> param.List:
    """A list (JSON in files and on the command line)."""
    return param.List(default=default, label=label, doc=doc, **extra)


def choice(default: str, objects: list, label: str, doc: str, **extra) -> param.Selector:
    """A key that takes one of ``objects``."""
    return param.Selector(default=default, objects=objects, label=label, doc=doc, **extra)


def number(default: float, label: str, doc: str, **extra) -> param.Number:
    """A finite number (voltages, weight means)."""
    return param.Number(default=default, label=label, doc=doc, **extra)


def positive(default: float, label: str, doc: str, **extra) -> param.Number:
    """A number > 0 (time steps, time constants, scales)."""
    return param.Number(default=default, bounds=(0.0, None), inclusive_bounds=(False, True),
                        label=label, doc=doc, **extra)


def non_negative(default: float, label: str, doc: str, **extra) -> param.Number:
    """A number >= 0 (strengths, standard deviations, amplitudes)."""
    return param.Number(default=default, bounds=(0.0, None), label=label, doc=doc, **extra)


def probability(default: float, label: str, doc: str, **extra) -> param.Number:
    """A probability or moving-average factor in [0, 1)."""
    return param.Number(default=default, bounds=(0.0, 1.0), inclusive_bounds=(True, False),
                        label=label, doc=doc, **extra)


def fraction(default: float, label: str, doc: str, **extra) -> param.Number:
    """A factor in (0, 1] (decays, reductions, down-sampling)."""
    return param.Number(default=default, bounds=(0.0, 1.0), inclusive_bounds=(False, True),
                        label=label, doc=doc, **extra)


def normal_init(name: str, what: str, mean: float, std: float, mean_soft: tuple,
                std_soft: tuple) -> tuple[param.Number, param.Number]:
    """The pair ``*_MEAN``, ``*_STD`` of a weight matrix initialised from Normal(mean, std)."""
    return (number(mean, f"{name} weight mean", f"Mean of the Normal initialisation of the {what}.",
                   softbounds=mean_soft),
            non_negative(std, f"{name} weight s.d.",
                         f"Standard deviation of the Normal initialisation of the {what}.",
                         softbounds=std_soft))


def count(default: int | None, label: str, doc: str, minimum: int = 1, **extra) -> param.Integer:
    """A whole number >= ``minimum``."""
    return param.Integer(default=default, bounds=(minimum, None), label=label, doc=doc, **extra)


class ModelParams(param.Parameterized):
    """Every key the engines and the trainer use, with generic defaults (the SHD code defaults
    where one exists, docs/presets.md#original-tables). The experiment classes below override the
    defaults and add their own keys."""

    experiment: ClassVar[str] = "generic"
    #: The experiment's name in headings (the parameter reference, the lab).
    title: ClassVar[str] = "Generic"
    # Inherited keys that are not part of this experiment's table: hidden from the UI, left out of
    # to_dict() and unknown to the loaders.  Their value is kept consistent by the class.
    _excluded_keys: ClassVar[frozenset] = frozenset()
    # Keys hard-coded by the simulator: setting another value is an error.
    _fixed_values: ClassVar[dict] = {}
    # Silent synonyms (generic name -> this experiment's name).
    _aliases: ClassVar[dict] = {}
    # The input-weighted loss needs the accumulator neuron, which only the SHD/SSC simulator has.
    _supports_input_weighting: ClassVar[bool] = False
    #: The original simulator whose output files a run writes ("shd": SHD/SSC, also DVS gesture;
    #: "mnist"; "yinyang"): the results columns and the weight-file names (eventprop.results).
    output_layout: ClassVar[str] = "shd"
    #: Inputs latency-coded into [2·DT_MS, TRIAL_MS − 2·DT_MS] (validate checks TRIAL_MS > 4·DT_MS).
    latency_coded: ClassVar[bool] = False

    # --- General -----------------------------------------------------------------------------
    NAME = text("test", "Run name",
                "Prefix of every file the run writes into OUT_DIR (NAME_results.txt, "
                "NAME_w_*.npy, ...).")
    OUT_DIR = text(".", "Output directory",
                   "Directory that receives the results, checkpoints and recordings (created if "
                   "missing).")
    MODEL_SEED = count(0, "Model seed",
                       "Seed of the model random number generator: weight initialisation, "
                       "heterogeneous τ draws, dropout, hidden noise and re-wiring. The original's "
                       "default is None (unseeded); this port defaults to 0 for "
                       "reproducibility. None draws a fresh seed, recorded in the results.",
                       minimum=0, allow_None=True)
    TRAIN_DATA_SEED = count(123, "Training data seed",
                            "Seed of the data random number generator: training-set generation "
                            "or selection, train/validation split, shuffling and augmentation.",
                            minimum=0)
    TEST_DATA_SEED = count(456, "Test data seed",
                           "Seed used to generate or shuffle the test set (unused by the "
                           "SHD/SSC simulator).", minimum=0)
    BUILD = flag(True, "Rebuild model (GeNN)",
                 "The original's switch to regenerate and compile the GeNN model. " + NO_EFFECT)
    TIMING = flag(True, "GeNN kernel timing",
                  "The original printed GeNN kernel timings at the end of a run. " + NO_EFFECT)
    LOAD_LAST = flag(False, "Load last checkpoint",
                     "Load the weights (and τ) saved with the label 'last' from OUT_DIR at the "
                     "start of training (file prefix CHECKPOINT_NAME if given, else NAME).")
    WRITE_TO_DISK = flag(True, "Write files to disk",
                         "Write the run's files into OUT_DIR: the parameters (NAME.json), the "
                         "results, the weight and checkpoint files and the recordings. False "
                         "trains in memory only and writes nothing.")

    # --- Experiment --------------------------------------------------------------------------
    DT_MS = positive(1.0, "Time step Δ (ms)",
                     "Simulation time step Δ in ms. Must be smaller than TRIAL_MS.",
                     softbounds=(0.01, 20.0))
    TRIAL_MS = positive(1400.0, "Trial length T (ms)",
                        "Length T of one trial (one sample presentation) in ms; the trial has S "
                        "= round(T/Δ) steps.", softbounds=(10.0, 2000.0))
    N_MAX_SPIKE = count(1500, "Spike store size per neuron",
                        "Spikes stored for the backward pass, per sample: N_MAX_SPIKE times the "
                        "number of spiking neurons, shared by them (one neuron may fire more "
                        "often than another). The store starts small and grows; a sample that "
                        "fills it raises an error naming N_MAX_SPIKE instead of silently "
                        "dropping spikes. (The original: a ring buffer of N_MAX_SPIKE slots per "
                        "neuron holding two trials.)")
    N_BATCH = count(32, "Batch size B",
                    "Samples per mini-batch B. The loss and regulariser scalings use this "
                    "constant even for a partial last batch.", softbounds=(1, 512))
    N_EPOCH = count(100, "Epochs",
                    "Number of training epochs (README of the Yin-Yang simulator: N_EPOCHS).",
                    softbounds=(1, 300))
    N_TRAIN = count(7644, "Training samples", "Number of training samples per epoch.")
    N_VALIDATE = count(512, "Validation samples",
                       "Number of samples held out from the training set for validation (0 = no "
                       "validation).", minimum=0)
    N_TEST = count(None, "Test samples",
                   "Number of test samples; None = the whole test split.",
                   minimum=0, allow_None=True)
    SHUFFLE = flag(True, "Shuffle training data",
                   "Permute the order of the training samples every epoch (data seed).")

    # --- Network structure -------------------------------------------------------------------
    NUM_INPUT = count(700, "Input neurons",
                      "Number of input channels (neurons of the input population).")
    NUM_HIDDEN = count(256, "Hidden neurons per layer",
                       "Number of neurons in each hidden layer.", softbounds=(1, 1024))
    NUM_OUTPUT = count(20, "Output neurons (classes)",
                       "Number of output neurons = number of classes C.")
    N_HID_LAYER = count(1, "Hidden layers",
                        "Number of hidden layers (the original supports more than one only for "
                        "SHD/SSC). Layer l feeds layer l+1 through dense 'hidfwd' synapses.",
                        softbounds=(1, 4))
    RECURRENT = flag(False, "Recurrent hidden layers",
                     "Add dense all-to-all recurrent synapses (autapses included) within each "
                     "hidden layer.")
    HIDDEN_NEURON_TYPE = choice("LIF", list(HIDDEN_NEURON_TYPES), "Hidden neuron type",
                                "'LIF': shared τm, τs; 'hetLIF': per-neuron τm, τs drawn from "
                                "Gamma(3, τ/3) and clipped to [MIN_TAU, 3τ]; 'ALIF': adaptive "
                                "threshold (needs REG_TYPE 'simple'). With REG_TYPE 'none' the "
                                "original always uses plain LIF.")
    OUTPUT_NEURON_TYPE = choice("LI", list(OUTPUT_NEURON_TYPES), "Output neuron type",
                                "'LI': shared τm, τs; 'hetLI': per-neuron τm, τs drawn as for "
                                "hetLIF. The first-spike losses always use spiking LIF outputs "
                                "with these time constants.")
    N_INPUT_DELAY = count(0, "Input delay-line copies",
                          "Number D of delayed copies of the input (SHD/SSC): the input "
                          "population has NUM_INPUT·(D+1) neurons, copy c replays the spikes "
                          "shifted by c·INPUT_DELAY ms.", minimum=0, softbounds=(0, 20))
    INPUT_DELAY = non_negative(50.0, "Delay-line spacing (ms)",
                               "Delay in ms between consecutive copies of the input delay line.")

    # --- Model -------------------------------------------------------------------------------
    TAU_SYN = positive(5.0, "Synaptic time constant τs (ms)",
                       "Decay time constant τs of the exponential synaptic current, in ms (mean "
                       "τs for hetLIF/hetLI).", softbounds=(0.5, 50.0))
    TAU_MEM = positive(20.0, "Membrane time constant τm (ms)",
                       "Membrane time constant τm in ms (mean τm for hetLIF/hetLI), hidden and "
                       "output.", softbounds=(1.0, 100.0))
    V_THRESH = number(1.0, "Threshold θ",
                      "Spike threshold θ of the LIF neurons (dimensionless voltage).")
    V_RESET = number(0.0, "Reset voltage V_r",
                     "Voltage after a spike and at trial start. The original's adjoint jump is "
                     "only correct for V_r = 0; this port uses θ − V_r.")
    TAU_B = positive(100.0, "ALIF adaptation time constant τB (ms)",
                     "Decay time constant of the ALIF threshold adaptation B, in ms.")
    B_INCR = number(0.1, "ALIF adaptation increment",
                    "Increase of the ALIF adaptation variable B at each spike.")
    B_INIT = number(0.0, "ALIF initial adaptation",
                    "Value of the ALIF adaptation variable B at the start of each trial.")
    INPUT_HIDDEN_MEAN, INPUT_HIDDEN_STD = normal_init(
        "Input→hidden", "input→hidden weights", 0.02, 0.01, (-0.5, 2.0), (0.0, 1.0))
    HIDDEN_OUTPUT_MEAN, HIDDEN_OUTPUT_STD = normal_init(
        "Hidden→output", "hidden→output weights", 0.0, 0.3, (-1.0, 2.0), (0.0, 1.0))
    HIDDEN_HIDDEN_MEAN, HIDDEN_HIDDEN_STD = normal_init(
        "Recurrent", "recurrent hidden→hidden weights", 0.0, 0.02, (-0.5, 0.5), (0.0, 0.5))
    HIDDEN_HIDDENFWD_MEAN, HIDDEN_HIDDENFWD_STD = normal_init(
        "Hidden l→l+1", "feed-forward weights between hidden layers", 0.02, 0.01, (-0.5, 0.5),
        (0.0, 0.5))
    PDROP_INPUT = probability(0.1, "Input dropout probability",
                              "Probability that an input spike is deleted, independently per "
                              "spike, in training trials (0 during evaluation).")
    PDROP_HIDDEN = probability(0.0, "Hidden spike-suppression probability",
                               "Probability that a hidden threshold crossing is suppressed in "
                               "training trials; the crossing is tested again next step, so the "
                               "spike is delayed rather than deleted.")
    HIDDEN_NOISE = non_negative(0.0, "Hidden voltage noise amplitude",
                                "Amplitude A of the Gaussian noise V += A·N(0,1)·√Δ added after "
                                "each hidden update in training trials (needs REG_TYPE 'simple' "
                                "in the original).", softbounds=(0.0, 1.0))

    # --- Learning ----------------------------------------------------------------------------
    ETA = non_negative(1e-3, "Learning rate η", "Adam learning rate η.", softbounds=(1e-5, 0.1))
    ADAM_BETA1 = probability(0.9, "Adam β1", "Adam decay rate of the first-moment estimate.")
    ADAM_BETA2 = probability(0.999, "Adam β2", "Adam decay rate of the second-moment estimate.")
    ADAM_EPS = positive(1e-8, "Adam ε", "Adam denominator offset ε.")
    TRAIN_W = flag(True, "Train hidden weights",
                   "Train the input→hidden, recurrent and hidden l→l+1 weights (False freezes "
                   "them; the backward pass still runs through them).")
    TRAIN_W_OUTPUT = flag(True, "Train output weights", "Train the hidden→output weights.")
    TRAIN_TAU = flag(False, "Train hidden τm, τs",
                     "Learn per-neuron hidden τm and τs by gradient descent (needs REG_TYPE "
                     "'simple'). TRAIN_TAUM is the deprecated alias.")
    TRAIN_TAU_OUTPUT = flag(False, "Train output τm, τs",
                            "Learn per-neuron output τm and τs (only with LOSS_TYPE "
                            "'sum_weigh_exp').")
    MIN_TAU_M = positive(3.0, "Minimum τm (ms)",
                         "Lower clamp of trained τm and lower clip of hetLIF/hetLI τm draws, in "
                         "ms.")
    MIN_TAU_SYN = positive(1.0, "Minimum τs (ms)",
                           "Lower clamp of trained τs and lower clip of hetLIF/hetLI τs draws, "
                           "in ms.")
    REG_TYPE = choice("none", list(REG_TYPES), "Regulariser",
                      "Hidden spike-count regulariser: 'none'; 'simple' = per-neuron (c/2)(N − "
                      "ν)² pushed through the adjoint at every spike; 'Thomas1' = 'simple' plus "
                      "a layer-total term (legacy, broken in the original).")
    LBD_UPPER = non_negative(2e-9, "Regulariser strength above target",
                             "Strength of the spike-count regulariser for neurons firing more "
                             "than NU_UPPER spikes per trial.")
    LBD_LOWER = non_negative(2e-9, "Regulariser strength below target",
                             "Strength of the spike-count regulariser for neurons firing at "
                             "most NU_UPPER spikes per trial (pushes activity up).")
    NU_UPPER = non_negative(14.0, "Target spikes per neuron ν",
                            "Target spike count ν per hidden neuron and trial of the "
                            "regulariser.")
    RHO_UPPER = non_negative(10000.0, "Layer spike-count target (Thomas1)",
                             "Target total spike count of a hidden layer per trial (REG_TYPE "
                             "'Thomas1').")
    GLB_UPPER = non_negative(1e-8, "Layer regulariser strength (Thomas1)",
                             "Strength of the layer-total regulariser (REG_TYPE 'Thomas1').")
    AVG_SNSUM = flag(False, "Batch-average spike counts",
                     "Replace each neuron's spike count by its batch mean before the "
                     "regulariser uses it.")
    REWIRE_SILENT = flag(False, "Rescue silent neurons",
                         "After each epoch act on the incoming weights of hidden neurons that "
                         "did not spike (see REWIRE_LIFT, REWIRE_LIFT_MODE). SHD/SSC/DVS: only "
                         "with REG_TYPE 'simple', as in the original, which collects the "
                         "statistics only with a regulariser; Yin-Yang and MNIST: always.")
    REWIRE_LIFT = number(0.0, "Silent-neuron weight lift",
                         "If non-zero: weight added by the silent-neuron rescue (see "
                         "REWIRE_LIFT_MODE). If 0: the silent neurons' incoming weights are "
                         "re-drawn from Normal(INPUT_HIDDEN_MEAN, INPUT_HIDDEN_STD).",
                         softbounds=(0.0, 0.01))
    REWIRE_LIFT_MODE = choice("all", ["all", "silent"], "Lift mode (project addition)",
                              "Project addition, not a key of the original. 'all' (default) = the "
                              "original: REWIRE_LIFT is added to every incoming weight of the "
                              "layer every epoch, whether or not any neuron is silent; 'silent' "
                              "= only the incoming columns of silent neurons are lifted.")
    SCHEDULE = choice(
        "synchronous", ["synchronous", "interleaved"], "Update schedule (project addition)",
        "Project addition, not a key of the original. 'synchronous' (default): forward, backward "
        "and optimiser step per batch. 'interleaved': the original's schedule "
        "(docs/training.md#update-schedule), where batch k's backward pass runs during batch "
        "k+1's forward pass, so every gradient is one optimiser step stale and the last training "
        "batch's gradient is lost each epoch.",
    )

    GENN_BACKEND = choice(
        "cuda", ["cuda", "single_threaded_cpu"], "GeNN backend (project addition)",
        "Project addition, not a key of the original; used by --engine genn only. 'cuda' "
        "(default): the batch of N_BATCH trials runs on the GPU at once. 'single_threaded_cpu': "
        "GeNN's CPU backend, which runs one trial at a time; the engine accumulates the batch's "
        "gradients, so a batch gives the same update. Always named: pygenn is never left to "
        "choose.",
    )
    GENN_TIMEOUT = positive(
        600.0, "GeNN batch timeout (s, project addition)",
        "Project addition, not a key of the original; used by --engine genn only. Seconds one "
        "batch may take in the GeNN worker process before it counts as hung and is stopped (the "
        "first build of the generated code is not counted).",
    )

    # --- Loss --------------------------------------------------------------------------------
    LOSS_TYPE = choice("sum_weigh_exp", list(LOSS_TYPES), "Loss function",
                       "Task loss. 'first_spike', 'first_spike_exp': cross-entropy on "
                       "first-spike times of spiking outputs; 'max': on the maximum voltage; "
                       "'sum': on the mean voltage; 'sum_weigh_linear', 'sum_weigh_exp', "
                       "'sum_weigh_sigmoid': on a time-weighted mean voltage (loss shaping); "
                       "'sum_weigh_input': weighted by the input activity (SHD/SSC only); "
                       "'avg_xentropy': the time-averaged instantaneous cross-entropy.")
    TAU_0 = positive(1.0, "First-spike softmax scale τ0 (ms)",
                     "Time scale τ0 in ms of the softmax over first-spike times (first-spike "
                     "losses).")
    TAU_1 = positive(100.0, "Late-spike penalty scale τ1 (ms)",
                     "Time scale τ1 in ms of the exponential late-spike penalty α·(exp(t/τ1) − "
                     "1) ('first_spike_exp' only).")
    ALPHA = non_negative(5e-5, "Late-spike penalty α",
                         "Strength α of the late-spike penalty of the first-spike losses.")
    TAU_ACCUMULATOR = positive(20.0, "Input accumulator time constant (ms)",
                               "Time constant in ms of the input-activity accumulator neuron "
                               "('sum_weigh_input').")

    # --- Recording ---------------------------------------------------------------------------
    REC_SPIKES = items([], "Record spikes of",
                       "Populations whose spikes are recorded: 'input', 'hidden0', 'hidden1', "
                       "..., 'output' ('hidden' in the MNIST simulator).")
    REC_SPIKES_EPOCH_TRIAL = items([], "Spike recording [epoch, trial]",
                                   "List of [epoch, trial] pairs in which spikes are recorded.")
    REC_NEURONS = items([], "Record neuron variables",
                        "List of [population, variable] pairs recorded every step, e.g. "
                        "['hidden0', 'V'] (variables 'V', 'I', 'lambda_V', 'lambda_I').")
    REC_NEURONS_EPOCH_TRIAL = items([], "Neuron recording [epoch, trial]",
                                    "List of [epoch, trial] pairs in which the neuron variables "
                                    "are recorded.")
    REC_SYNAPSES = items([], "Record synapse variables",
                         "List of [synapse population, variable] pairs, e.g. ['in_to_hid', "
                         "'w']: the weights after each recorded trial (constant within a trial "
                         "here). Only 'w' is recorded; the original's 'dw' and 'in_syn' are "
                         "refused with an error.")
    REC_SYNAPSES_EPOCH_TRIAL = items([], "Synapse recording [epoch, trial]",
                                     "List of [epoch, trial] pairs in which the synapse "
                                     "variables are recorded.")
    SPK_REC_STEPS = count(None, "Spike recording buffer (steps)",
                          "Steps held by the original's GeNN spike-recording buffer. " + NO_EFFECT
                          + " Spikes are recorded for whole trials.", allow_None=True)
    W_OUTPUT_EPOCH_TRIAL = items([], "Weight snapshots [epoch, trial]",
                                 "List of [epoch, trial] pairs after which all weight matrices "
                                 "are saved (NAME_w_*_e{E}_t{T}.npy).")
    COLLECT_CONFUSION = flag(False, "Collect confusion matrices",
                             "Save per-epoch confusion matrices conf[prediction, label] for "
                             "training and evaluation (NAME_confusion_{train,eval}.npy).")
    REC_PREDICTIONS = flag(False, "Record predictions",
                           "Save per-epoch predictions and labels (NAME_predictions_*.npy, "
                           "NAME_labels_*.npy).")
    DEBUG_HIDDEN_N = flag(False, "Hidden spike statistics",
                          "Print and add to the results file per-layer statistics of the hidden "
                          "spikes in the epoch's training trials (MNIST: per batch; SHD/SSC: per "
                          "sample, and the number of silent neurons); the columns are in "
                          "docs/training.md#debug_hidden_n-columns.")

    def n_classes(self) -> int:
        """Number of output neurons C actually built (NUM_OUTPUT, or as resolved by the class)."""
        return int(self.NUM_OUTPUT)

    def table_problems(self) -> list[str]:
        """This table's own cross-field rules, one sentence per problem; ``validate`` adds them
        after the rules every table shares, so an experiment's rules live in its own module.
        Default: none."""
        return []


def inherit_doc(key: str, extra: str) -> str:
    """The generic doc text of ``key`` followed by an experiment's remark ``extra``."""
    return ModelParams.param[key].doc + " " + extra


def note(key: str, extra: str, **slots) -> param.Parameter:
    """An experiment's declaration of an inherited key: the generic doc text of ``key`` followed
    by the experiment's remark ``extra`` (e.g. the original's default), with the changed
    ``slots`` (``default=...``); every other slot (bounds, label, choices) is inherited."""
    return type(ModelParams.param[key])(doc=inherit_doc(key, extra), **slots)


def params_class(params_or_cls) -> type[ModelParams]:
    if isinstance(params_or_cls, type) and issubclass(params_or_cls, ModelParams):
        return params_or_cls
    if isinstance(params_or_cls, ModelParams):
        return type(params_or_cls)
    raise TypeError(f"expected a ModelParams instance or subclass, got {params_or_cls!r}")


def param_keys(params_or_cls) -> list[str]:
    """The keys of a parameter class or instance, in declaration order (no 'name')."""
    cls = params_class(params_or_cls)
    return [k for k in cls.param if k != "name" and k not in cls._excluded_keys]


def n_steps(params) -> int:
    """Steps per trial, S = round(TRIAL_MS / DT_MS)."""
    return int(round(params.TRIAL_MS / params.DT_MS))
