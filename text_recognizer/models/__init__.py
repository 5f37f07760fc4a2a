"""Models, by the class names that experiment configs use."""

from text_recognizer.models.character_model import CharacterModel
from text_recognizer.models.line_detector_model import LineDetectorModel
from text_recognizer.models.line_model import LineModel
from text_recognizer.models.line_model_ctc import LineModelCtc

__all__ = ["CharacterModel", "LineDetectorModel", "LineModel", "LineModelCtc"]
