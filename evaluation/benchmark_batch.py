"""Pages per second of reading a collection (`text_recognizer.batch`): as `cli read --workers 1` and `--workers 2`
read it, and with Ray Data on two local CPUs, on this machine.

    python evaluation/benchmark_batch.py [--pages 20] [--mode page] [--formats txt,json,alto,page,hocr,pdf]

The collection is the committed support pages (`text_recognizer/tests/support/iam_pages`) repeated to `--pages`
files, read into a fresh folder each time, every format written. Each figure counts all a user waits for once the
command runs: processes or actors started, the predictor loaded in each, every page read and written (Ray's own
start, `ray.init`, is not counted: a cluster is up before a job comes). The last line is the best figure.
"""

import argparse
import contextlib
import io
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from text_recognizer import batch

PAGES_DIRNAME = Path(__file__).resolve().parents[1] / "text_recognizer" / "tests" / "support" / "iam_pages"


def make_collection(folder: Path, pages: int) -> Path:
    """`pages` copies of the support pages in `folder`, named 00-..., 01-..."""
    images = sorted(path for path in PAGES_DIRNAME.iterdir() if path.suffix.lower() in batch.SUFFIXES)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(pages):
        shutil.copy(images[i % len(images)], folder / f"{i:02d}-{images[i % len(images)].name}")
    return folder


def timed(read: Callable[[], int]) -> tuple[int, float]:
    """The pages `read` reports, and the seconds it took."""
    start = time.perf_counter()
    pages = read()
    return pages, time.perf_counter() - start


def benchmark(pages: int, mode: str, formats: tuple[str, ...]) -> dict[str, float]:
    """Pages per second of each way of reading a collection of `pages` pages."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        source = make_collection(Path(tmp) / "in", pages)
        for workers in (1, 2):
            out = Path(tmp) / f"out-{workers}"

            def read_with_workers(workers: int = workers, out: Path = out) -> int:
                with contextlib.redirect_stderr(io.StringIO()):  # its summary: the table below says it
                    failed = batch.read_inputs([source], out, formats, mode, workers, force=True)
                assert not failed, f"{failed} inputs failed"
                return pages

            figures[f"cli --workers {workers}"] = _rate(*timed(read_with_workers))
        try:
            import ray
        except ImportError:
            print(f"(no Ray figure: {batch.RAY_MISSING})")
            return figures
        logging.getLogger("ray").setLevel(logging.WARNING)
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        try:

            def read_with_ray() -> int:
                out = Path(tmp) / "out-ray"
                results = batch.read_collection_with_ray(str(source), out, formats, mode, workers=2, force=True)
                failed = [result for result in results if result.error is not None]
                assert not failed, f"{len(failed)} inputs failed: {failed[0].error}"
                return sum(result.pages for result in results)

            figures["ray, 2 CPUs"] = _rate(*timed(read_with_ray))
        finally:
            ray.shutdown()
    return figures


def _rate(pages: int, seconds: float) -> float:
    return pages / seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20, help="pages in the collection (default: 20)")
    parser.add_argument("--mode", choices=batch.MODES, default="page", help="what each page holds (default: page)")
    parser.add_argument("--formats", default=None, help="comma-separated formats to write (default: all)")
    args = parser.parse_args()
    from text_recognizer.documents import FORMATS

    formats = batch.check_formats(args.formats.split(",")) if args.formats else tuple(FORMATS)
    figures = benchmark(args.pages, args.mode, formats)
    print(f"{'reading ' + str(args.pages) + ' pages, mode ' + args.mode:<32} {'pages/s':>8}")
    for name, value in figures.items():
        print(f"{name:<32} {value:>8.2f}")
    print(f"pages_per_second: {max(figures.values()):.2f}")
