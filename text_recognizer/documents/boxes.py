"""What the XML and HTML writers share about boxes and confidences."""

from text_recognizer.predictors.base import Box, Line, Word


def corners(box: Box) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the top-left and bottom-right corners of an (x, y, width, height) box."""
    x, y, w, h = box
    return x, y, x + w, y + h


def union(boxes: list[Box]) -> Box:
    """The smallest box holding all of `boxes` (not empty)."""
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def line_words(line: Line) -> tuple[Word, ...]:
    """The line's words, or, for a line read without them, its whole text as one word in its box."""
    if line.words:
        return line.words
    return (Word(line.box, line.text, line.confidence),) if line.text else ()


def kind_runs(lines: tuple[Line, ...]) -> list[list[Line]]:
    """The lines in runs of one kind, in order: the blocks of a page (a form's printed block, its handwriting)."""
    runs: list[list[Line]] = []
    for line in lines:
        if runs and runs[-1][0].kind == line.kind:
            runs[-1].append(line)
        else:
            runs.append([line])
    return runs
