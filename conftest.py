"""Points the tests at the offline data mirror beside the checkout when no mirror is configured."""

import os
from pathlib import Path

from text_recognizer.datasets.dataset import MIRROR_ENV_VAR

_SHARED = Path(__file__).resolve().parent.parent / "shared" / "data"
if MIRROR_ENV_VAR not in os.environ and (_SHARED / "raw").is_dir():
    os.environ[MIRROR_ENV_VAR] = str(_SHARED / "raw")
if "NLTK_DATA" not in os.environ and (_SHARED / "nltk_data").is_dir():
    os.environ["NLTK_DATA"] = str(_SHARED / "nltk_data")
