"""Models, by the class names that experiment configs use."""

from text_recognizer.models.character_model import CharacterModel

__all__ = ["CharacterModel"]
