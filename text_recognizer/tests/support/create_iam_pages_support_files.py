"""Writes two real IAM test-split whole pages to `support/iam_pages/`, their texts and line counts to `texts.json`.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw \
        python -m text_recognizer.tests.support.create_iam_pages_support_files

One greyscale scan with its printed header (`a01-014.jpg`) and one binarized page (`a01-000x.png`), each the whole
page at half its resolution (1240x1771), dark ink on light paper. Per image, `texts.json` holds its kind, the form's
inked handwritten lines joined with newlines (their count is the number of lines to detect) and the number of printed
lines its layout gives (`IamPagesDataset`).
"""

import json
from pathlib import Path

import cv2

from text_recognizer.datasets import IamDataset
from text_recognizer.datasets.iam_pages_dataset import printed_lines
from text_recognizer.datasets.iam_paragraphs_dataset import has_ink

SUPPORT_DIRNAME = Path(__file__).parent / "iam_pages"
PAGES = {"a01-014": "scan", "a01-000x": "binarized"}
JPEG_QUALITY = 85


def main() -> None:
    iam = IamDataset()
    iam.load_or_generate_data()
    SUPPORT_DIRNAME.mkdir(exist_ok=True)
    texts = {}
    for form_id, page in iam.form_images(PAGES):
        lines = sorted((line for line in iam.lines if line.form_id == form_id), key=lambda line: line.line_id)
        lines = [line for line in lines if has_ink(page, line)]
        assert all(line.split == "test" for line in lines), form_id
        small = cv2.resize(page, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        name = f"{form_id}.jpg" if PAGES[form_id] == "scan" else f"{form_id}.png"
        cv2.imwrite(
            str(SUPPORT_DIRNAME / name),
            small,
            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if name.endswith(".jpg") else [],
        )
        texts[name] = {
            "kind": PAGES[form_id],
            "text": "\n".join(line.text for line in lines),
            "handwritten_lines": len(lines),
            "printed_lines": len(printed_lines(page, min(line.box[1] for line in lines))),
        }
        print(f"{name} {small.shape}: {len(lines)} handwritten lines, {texts[name]['printed_lines']} printed")
    (SUPPORT_DIRNAME / "texts.json").write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
