"""`text_recognizer.decoding` against references: Keras' CTC decoding and loss, and the Python beam search with the
language model that it replaced (kept here as the oracle), on an IAM network's stored outputs."""

import heapq
import json
import math
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pytest

from text_recognizer.decoding import CtcDecoder, greedy_paths, sequence_probabilities
from text_recognizer.decoding import decoder as decoder_module
from text_recognizer.language_model import CharNgramModel, arpa_file
from text_recognizer.metrics import character_error_rate
from text_recognizer.models.base import load_shipped_model
from text_recognizer.models.line_model_ctc import LineModelCtc
from text_recognizer.tests.support.create_iam_network_outputs import OUTPUTS_FILENAME

IAM_SUPPORT_DIRNAME = Path(__file__).parent / "support" / "iam_lines"
IAM_TEXTS = json.loads((IAM_SUPPORT_DIRNAME / "texts.json").read_text())
TOKENS = list("abcd_")
BLANK = 4


def random_outputs(seed: int, batch: int = 24, steps: int = 16, peakiness: float = 3.0) -> np.ndarray:
    """Softmax outputs (batch, steps, classes) of random logits: the larger `peakiness`, the surer each step."""
    logits = np.random.default_rng(seed).normal(scale=peakiness, size=(batch, steps, len(TOKENS)))
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits)).astype(np.float32)


def keras_decode(probabilities: np.ndarray, strategy: str, beam_width: int = 64) -> list[list[int]]:
    batch, steps = probabilities.shape[:2]
    decoded, _ = keras.ops.ctc_decode(
        np.log(probabilities),
        np.full(batch, steps, dtype=np.int32),
        strategy=strategy,
        beam_width=beam_width,
        mask_index=BLANK,
    )
    return [[int(label) for label in row if label >= 0] for row in keras.ops.convert_to_numpy(decoded[0])]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_reads_as_keras_does(seed: int) -> None:
    probabilities = random_outputs(seed)
    assert greedy_paths(probabilities, BLANK) == keras_decode(probabilities, "greedy")
    sequences, _ = CtcDecoder(TOKENS, BLANK).decode(probabilities)
    assert sequences == keras_decode(probabilities, "greedy")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_without_language_model_reads_as_keras_does(seed: int) -> None:
    probabilities = random_outputs(seed, peakiness=4.0)
    sequences, _ = CtcDecoder(TOKENS, BLANK, beam_width=16).decode(probabilities)
    expected = keras_decode(probabilities, "beam_search", beam_width=16)
    # flashlight's beam holds a reading once per token it ends in (blank or label), Keras' once: a beam as wide holds
    # fewer readings, and may now and then lose the best, for one a little less likely.
    assert sum(a == b for a, b in zip(sequences, expected, strict=True)) >= 22
    log_probabilities = [np.log(sequence_probabilities(probabilities, s, BLANK)) for s in (sequences, expected)]
    assert np.all(log_probabilities[0] >= log_probabilities[1] - 0.2)
    # The test is not idle: on these outputs beam search reads some lines otherwise than the greedy best path.
    assert sum(a != b for a, b in zip(sequences, greedy_paths(probabilities, BLANK), strict=True)) >= 4


def test_sequence_probabilities_are_exp_of_minus_the_ctc_loss() -> None:
    probabilities = random_outputs(3, batch=32, steps=20, peakiness=2.0)
    rng = np.random.default_rng(4)
    # Random sequences, with repeats (which need a blank between), of up to 10 labels; the empty one too.
    sequences = [rng.integers(0, BLANK, size=rng.integers(0, 11)).tolist() for _ in range(31)] + [[]]
    labels = np.full((32, 10), BLANK)
    for row, sequence in zip(labels, sequences, strict=True):
        row[: len(sequence)] = sequence
    loss = keras.ops.ctc_loss(
        labels,
        np.log(probabilities),
        np.array([len(sequence) for sequence in sequences]),
        np.full(32, 20),
        mask_index=BLANK,
    )
    expected = np.exp(-keras.ops.convert_to_numpy(loss).astype(np.float64))
    assert np.allclose(sequence_probabilities(probabilities, sequences, BLANK), expected, rtol=1e-4, atol=1e-12)


def test_confidences_are_sequence_probabilities_per_label() -> None:
    probabilities = random_outputs(5, peakiness=4.0)
    sequences, confidences = CtcDecoder(TOKENS, BLANK, beam_width=8).decode(probabilities)
    lengths = np.array([max(len(sequence), 1) for sequence in sequences])
    assert np.allclose(confidences, sequence_probabilities(probabilities, sequences, BLANK) ** (1 / lengths))
    assert np.all((0 < confidences) & (confidences <= 1))


@pytest.mark.parametrize("beam_width", [1, 8])
def test_read_is_what_decode_reads_with_where_it_fires(beam_width: int) -> None:
    probabilities = random_outputs(6, peakiness=4.0)
    decoder = CtcDecoder(TOKENS, BLANK, beam_width=beam_width)
    sequences, confidences = decoder.decode(probabilities)
    readings = decoder.read(probabilities)
    assert [reading.labels for reading in readings] == sequences
    assert np.allclose([reading.confidence for reading in readings], confidences)
    assert all(reading.steps.shape == (len(reading.labels), 2) for reading in readings)


def decode(probabilities: np.ndarray, beam_width: int = 1) -> tuple[list[list[int]], np.ndarray]:
    """Decoded with the last class as the blank."""
    classes = probabilities.shape[-1]
    return CtcDecoder(TOKENS[: classes - 1] + ["_"], classes - 1, beam_width).decode(probabilities)


def test_greedy_merges_repeats_and_drops_blanks() -> None:
    probabilities = np.eye(4)[[[0, 0, 3, 0, 1, 1, 3, 3], [3, 3, 3, 3, 3, 3, 3, 2]]] * 0.97 + 0.01
    sequences, confidences = decode(probabilities)
    assert sequences == [[0, 0, 1], [2]]
    assert np.all(confidences > 0.5) and np.all(confidences <= 1)
    assert decode(probabilities, beam_width=5)[0] == sequences


def test_confidence_falls_with_ambiguity() -> None:
    clear = np.eye(3)[[[0, 2, 1, 2]]] * 0.97 + 0.01
    unsure = clear.copy()
    unsure[0, 2] = [0.01, 0.5, 0.49]  # "b" or nothing
    assert decode(unsure)[1][0] < decode(clear)[1][0]


def test_confidence_is_per_character_so_long_clear_lines_stay_sure() -> None:
    def clear(labels: list[int], probability: float = 0.95) -> np.ndarray:
        steps = np.full((2 * len(labels), 3), (1 - probability) / 2)
        steps[np.arange(0, 2 * len(labels), 2), labels] = probability
        steps[np.arange(1, 2 * len(labels), 2), 2] = probability  # a blank between labels
        return steps[None]

    short, long = decode(clear([0, 1]))[1][0], decode(clear([0, 1] * 20))[1][0]
    assert 0.9 < long <= 1 and abs(short - long) < 0.05


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"beam_width": 0}, "beam_width must be at least 1"),
        ({"blank": 5}, "blank must be a class"),
        ({"lm_weight": 0.5}, "needs a language_model"),
        ({"language_model": Path("no/such/lm.arpa")}, "No language model file"),
    ],
)
def test_bad_arguments_are_clear_errors(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CtcDecoder(**{"tokens": TOKENS, "blank": BLANK, **arguments})


def test_a_language_model_over_other_tokens_is_refused(tmp_path: Path) -> None:
    arpa = CharNgramModel.fit("abc cab", "abc ", order=2).write_arpa(tmp_path / "lm.arpa")
    with pytest.raises(ValueError, match=r"not over the tokens: it lacks 'd', has '\|'"):
        CtcDecoder(TOKENS, BLANK, beam_width=4, language_model=arpa, lm_weight=0.5)
    (tmp_path / "bad.arpa").write_text("not an ARPA file\n")
    with pytest.raises(ValueError, match="not an ARPA file"):
        CtcDecoder(TOKENS, BLANK, language_model=tmp_path / "bad.arpa")
    with pytest.raises(ValueError, match="outputs"):
        CtcDecoder(TOKENS, BLANK).decode(np.ones((2, 3, 4)))


def test_the_package_imports_only_numpy_and_flashlight() -> None:
    code = (
        "import sys, json, text_recognizer.decoding\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} | {m for m in sys.modules if 'text_' in m})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(result.stdout))
    assert {"numpy", "flashlight"} <= loaded and not loaded & {"tensorflow", "keras", "scipy", "cv2", "PIL"}
    assert {m for m in loaded if m.startswith("text_recognizer.")} == {
        "text_recognizer.decoding",
        "text_recognizer.decoding.arpa",
        "text_recognizer.decoding.ctc",
        "text_recognizer.decoding.decoder",
        "text_recognizer.decoding.words",
    }


@pytest.fixture(scope="module")
def shipped() -> LineModelCtc:
    """The shipped IAM line model: its network, and its decoder as its JSON's `model_args` set it."""
    model = load_shipped_model("LineModelCtc_IamLinesDataset_line_lstm_ctc")
    assert isinstance(model, LineModelCtc)
    return model


@pytest.fixture(scope="module")
def iam_outputs() -> np.ndarray:
    """An IAM network's softmax outputs for the support lines, in `IAM_TEXTS` order: stored, so that these tests
    compare the decoders on the same outputs whichever reader is shipped (`support/create_iam_network_outputs.py`)."""
    with np.load(OUTPUTS_FILENAME) as stored:
        outputs: np.ndarray = stored["outputs"]
    assert outputs.shape[0] == len(IAM_TEXTS)
    return outputs


def test_decoding_from_threads_reads_as_decoding_alone(shipped: LineModelCtc, iam_outputs: np.ndarray) -> None:
    alone = shipped.decoder.decode(iam_outputs)[0]
    results: dict[int, list[list[int]]] = {}

    def decode(i: int) -> None:
        results[i] = shipped.decoder.decode(iam_outputs)[0]

    threads = [threading.Thread(target=decode, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(result == alone for result in results.values())


def test_language_model_decoding_reads_as_the_python_beam_search_did(
    shipped: LineModelCtc, iam_outputs: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = shipped
    mapping, blank = list(model.data.mapping), model.data.padding_label
    language_model = CharNgramModel.load(Path(__file__).parents[1] / "weights" / "CharNgramModel_brown.npz")
    # The settings the Python search was tuned to (5.3% CER on the test split).
    beam_width, lm_weight, length_bonus = 16, 0.5, 1.2
    scorer = char_ngram_scorer(language_model, mapping, lm_weight)
    oracle = [
        model.labels_to_text(python_beam_search(line, blank, beam_width, scorer, length_bonus)) for line in iam_outputs
    ]
    arpa = arpa_file("CharNgramModel_brown")

    def read(decoder: CtcDecoder) -> list[str]:
        return [model.labels_to_text(sequence) for sequence in decoder.decode(iam_outputs)[0]]

    greedy = read(CtcDecoder(mapping, blank))
    fast = read(CtcDecoder(mapping, blank, beam_width, arpa, lm_weight, length_bonus))
    # Searching widely, both weigh readings alike (the same character probabilities: see test_language_model), but
    # flashlight keeps its beam per reading and last token, gives the length bonus per step read, and charges the
    # line's end as a space: they read all lines alike but the hardest.
    monkeypatch.setattr(decoder_module, "BEAM_SIZE_TOKEN", 16)
    monkeypatch.setattr(decoder_module, "BEAM_THRESHOLD", 20.0)
    monkeypatch.setattr(decoder_module, "SURE_BLANK", 0.0)
    wide = read(CtcDecoder(mapping, blank, beam_width, arpa, lm_weight, length_bonus))
    assert sum(a == b for a, b in zip(wide, oracle, strict=True)) >= 7, list(zip(wide, oracle, strict=True))
    # Pruned for speed, it reads as well; and the language model helps, which it could not with the tokens mismapped.
    truth = list(IAM_TEXTS.values())
    assert character_error_rate(fast, truth) <= character_error_rate(oracle, truth) + 0.01
    assert character_error_rate(fast, truth) < character_error_rate(greedy, truth) - 0.02


def char_ngram_scorer(
    language_model: CharNgramModel, mapping: list[str], lm_weight: float
) -> Callable[[tuple[int, ...]], np.ndarray]:
    """`lm_weight` times the language model's log-probability of each label after a prefix (a line's context starts
    with a space), as LineModelCtc scored labels for `python_beam_search`."""
    labels = np.array([mapping.index(char) for char in language_model.alphabet])

    def score(prefix: tuple[int, ...]) -> np.ndarray:
        context = " " + "".join(mapping[label] for label in prefix[-language_model.order :])
        scores = np.zeros(len(mapping))
        scores[labels] = lm_weight * np.log(language_model.probabilities(context))
        return scores

    return score


def python_beam_search(
    probabilities: np.ndarray,
    blank_label: int,
    beam_width: int,
    scorer: Callable[[tuple[int, ...]], np.ndarray],
    length_bonus: float = 0.0,
    min_probability: float = 1e-3,
) -> list[int]:
    """The best label sequence of one line's outputs (steps, classes) by CTC prefix beam search with a language model:
    the decoder's Python predecessor, as it was.

    A prefix's score is log P(prefix | outputs), summed over its alignments as CTC does, plus for each of its labels
    `scorer(labels before it)[label] + length_bonus` (shallow fusion: Hannun et al. 2014, arXiv:1408.2873). Labels
    the network gives less than `min_probability` at a step are not tried there, which keeps the search fast.
    """
    log_probabilities = np.log(np.maximum(probabilities, np.finfo(np.float32).tiny)).tolist()
    candidates = [np.flatnonzero(row > min_probability).tolist() for row in probabilities]
    # Per prefix: log-probability of its alignments so far that end in a blank, and of those that end in its last label.
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    scores: dict[tuple[int, ...], np.ndarray] = {}
    for row, labels in zip(log_probabilities, candidates, strict=True):
        extended: dict[tuple[int, ...], list[float]] = {}
        for prefix, (ends_blank, ends_label) in beams.items():
            total = _log_add(ends_blank, ends_label)
            entry = extended.setdefault(prefix, [-math.inf, -math.inf])
            entry[0] = _log_add(entry[0], total + row[blank_label])
            last = prefix[-1] if prefix else None
            if last is not None:  # the last label again, without a blank between, merges into it
                entry[1] = _log_add(entry[1], ends_label + row[last])
            for label in labels:
                if label == blank_label:
                    continue
                if prefix not in scores:
                    scores[prefix] = scorer(prefix)
                longer = prefix + (label,)
                source = ends_blank if label == last else total
                entry = extended.setdefault(longer, [-math.inf, -math.inf])
                entry[1] = _log_add(entry[1], source + row[label] + float(scores[prefix][label]) + length_bonus)
        beams = {
            prefix: (entry[0], entry[1])
            for prefix, entry in heapq.nlargest(beam_width, extended.items(), key=lambda item: _log_add(*item[1]))
        }
    best: tuple[int, ...] = max(beams, key=lambda prefix: _log_add(*beams[prefix]))
    return list(best)


def _log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)), without overflow."""
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))
