"""Text Recognizer: handwriting recognition from characters to paragraphs."""
