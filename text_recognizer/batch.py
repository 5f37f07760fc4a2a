"""Reading collections of documents: inputs found, each read once, its outputs written atomically, resumable.

    >>> from pathlib import Path
    >>> from text_recognizer.batch import find_inputs, output_paths, read_inputs
    >>> [item.stem for item in find_inputs(["text_recognizer/tests/support/iam_pages"])]
    ['a01-000x', 'a01-014']
    >>> [path.name for path in output_paths("scan", Path("out"), ["txt", "page"], page_count=2)]
    ['scan.txt', 'scan.p1.page.xml', 'scan.p2.page.xml']
    >>> failed = read_inputs(["scans/"], Path("out"), ["txt", "json"], mode="page", workers=2, force=False)

Inputs are files of a supported suffix (`SUFFIXES`) and folders, walked recursively (hidden files and folders
skipped), in sorted order. An input's *stem* names its outputs: a file given itself is named by its file stem, one
found in a folder by its path under that folder without the suffix, so `scans/box1/p.png` read as `scans` writes
`out/box1/p.txt` and never overwrites `out/box2/p.txt`. Two inputs with one stem (`p.png` beside `p.pdf`, or two
files of one name given from two folders) are refused before anything is read (`InputError`).

Each output is rendered in memory, then written to a temporary file beside it and renamed (`util.atomic_path`), so a
run stopped at any point leaves only whole outputs. Last, a small manifest `out/.done/<stem>.json` records the
input's page count; an input is finished when its manifest and every output it names for the formats asked exist, and
a rerun skips it (`--force` reads it again). Rerun with more formats and only those inputs lacking one are read.

The same reading runs on Ray Data (`read_collection_with_ray`), for a folder or an object-store prefix, on this
machine or a cluster.
"""

import contextlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from text_recognizer.util import ImageError, atomic_path

if TYPE_CHECKING:
    from text_recognizer.documents.model import Document
    from text_recognizer.predictors import Predictor

#: The suffixes (lower case) of the files read: images, multi-page TIFFs and PDFs.
SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".pdf")
#: Formats that hold one page a file: a longer document's page N goes to `<stem>.p<N><extension>`.
PER_PAGE_FORMATS = ("page",)
#: The modes that read documents (see `predictors.load_predictor`).
MODES = ("page", "paragraph", "line")
#: The folder under the output folder that holds each finished input's manifest.
MANIFEST_DIRNAME = ".done"
RAY_MISSING = "Ray is not installed: install the batch group: pipenv sync --categories batch"


class InputError(ValueError):
    """The inputs asked for cannot be read as asked: missing, of an unsupported type, or two with one stem."""


@dataclass(frozen=True)
class Input:
    """A document to read: where it is (a local path, or a path on an object store) and the stem of its outputs."""

    path: str
    stem: str


@dataclass(frozen=True)
class Result:
    """What became of one input: its page count (0 when it failed), and why it failed or whether it was finished
    already (then `pages` is the count its manifest records)."""

    path: str
    stem: str
    pages: int = 0
    error: str | None = None
    skipped: bool = False


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The format names, checked against `documents.FORMATS` (a ValueError listing the choices otherwise)."""
    from text_recognizer.documents import FORMATS

    names = tuple(dict.fromkeys(name.strip() for name in formats if name.strip()))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        what = f"unknown format {', '.join(map(repr, unknown))}" if unknown else "no format"
        raise ValueError(f"{what}; choose from {', '.join(FORMATS)}")
    return names


def find_inputs(paths: Iterable[str | Path]) -> list[Input]:
    """The local inputs: each file given (of a supported suffix), and each folder's supported files, recursively, in
    sorted order; a file reached twice counts once. Raises `InputError` for a missing path, a file given of an
    unsupported suffix, an input set with none, or two inputs with one stem."""
    paths = list(paths)
    found: list[Input] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                (file for file in path.rglob("*") if _is_input(file.relative_to(path)) and file.is_file()),
                key=lambda file: file.relative_to(path).as_posix(),
            )
            items = [Input(str(file), _stem_under(file.relative_to(path).as_posix())) for file in files]
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                raise InputError(f"{path}: not a supported input (supported: {', '.join(SUFFIXES)})")
            items = [Input(str(path), path.stem)]
        else:
            raise InputError(f"{path}: no such file or folder")
        for item in items:
            resolved = Path(item.path).resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.append(item)
    return _checked(found, paths)


def output_paths(stem: str, out_dir: Path, formats: Sequence[str], page_count: int) -> list[Path]:
    """Where the outputs of an input of `page_count` pages go: `<stem><extension>` for each format, and for a format
    of one page a file (`PER_PAGE_FORMATS`) of a longer input `<stem>.p<N><extension>` for each page N from 1."""
    from text_recognizer.documents import FORMATS

    paths: list[Path] = []
    for name in formats:
        extension = FORMATS[name].extension
        if name in PER_PAGE_FORMATS and page_count > 1:
            paths.extend(out_dir / f"{stem}.p{number}{extension}" for number in range(1, page_count + 1))
        else:
            paths.append(out_dir / f"{stem}{extension}")
    return paths


def manifest_path(stem: str, out_dir: Path) -> Path:
    """The manifest a finished input's outputs end with (see the module docstring)."""
    return out_dir / MANIFEST_DIRNAME / f"{stem}.json"


def write_outputs(document: "Document", out_dir: Path, formats: Sequence[str], stem: str | None = None) -> list[Path]:
    """Write `document` in each format under `out_dir`, named by `stem` (default: the document's name), and then its
    manifest; the paths written, manifest last.

    Every output is rendered before any is written, so a writer that fails leaves none of this call's outputs; each is
    written atomically (`util.atomic_path`), so an interrupted call leaves only whole files and no manifest."""
    from text_recognizer.documents import FORMATS
    from text_recognizer.documents.model import Document

    stem = document.name if stem is None else stem
    page_count = len(document.pages)
    if not page_count:
        raise ValueError(f"{stem}: a document without pages has nothing to write")
    rendered: list[tuple[Path, bytes]] = []
    for name in formats:
        write = FORMATS[name].write
        if name in PER_PAGE_FORMATS and page_count > 1:
            parts = [write(Document(document.name, (page,))) for page in document.pages]
        else:
            parts = [write(document)]
        rendered.extend(zip(output_paths(stem, out_dir, [name], page_count), parts, strict=True))
    for path, data in rendered:
        with atomic_path(path) as partial:
            partial.write_bytes(data)
    manifest = manifest_path(stem, out_dir)
    outputs = [path.relative_to(out_dir).as_posix() for path, _ in rendered]
    with atomic_path(manifest) as partial:
        partial.write_text(json.dumps({"pages": page_count, "formats": list(formats), "outputs": outputs}) + "\n")
    return [path for path, _ in rendered] + [manifest]


def finished_pages(stem: str, out_dir: Path, formats: Sequence[str]) -> int | None:
    """The page count of an input whose outputs in `formats` are all written (see the module docstring), else None."""
    try:
        pages = json.loads(manifest_path(stem, out_dir).read_text())["pages"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(pages, int) or pages < 1:
        return None
    return pages if all(path.is_file() for path in output_paths(stem, out_dir, formats, pages)) else None


def read_one(
    predictor: "Predictor", source: str | Path | bytes, item: Input, out_dir: Path, formats: Sequence[str]
) -> Result:
    """Read one input (`source`: its path or its bytes) and write its outputs; a failure comes back as the Result's
    `error` (a message, no traceback), never as an exception."""
    from text_recognizer.documents import read_document

    try:
        document = read_document(source, predictor, PurePosixPath(item.stem).name)
        write_outputs(document, out_dir, formats, stem=item.stem)
    except ImageError as e:  # DocumentError included: the input, not the program, is at fault
        return Result(item.path, item.stem, error=str(e))
    except Exception as e:  # one bad input must not stop a run of thousands
        return Result(item.path, item.stem, error=f"{type(e).__name__}: {e}")
    return Result(item.path, item.stem, pages=len(document.pages))


def read_inputs(
    paths: Iterable[str | Path],
    out_dir: Path,
    formats: Sequence[str],
    mode: str = "page",
    workers: int = 1,
    force: bool = False,
) -> int:
    """Read every input under `paths` (see `find_inputs`) in `mode`, writing `formats` under `out_dir`; the count of
    inputs that failed.

    Inputs finished already are skipped unless `force`. `workers` processes read at once, each loading the predictor
    once and giving ONNX Runtime one thread; a progress bar over pages goes to stderr (when it is a terminal), then
    each failure (its path and why) and a summary. Raises `InputError` for inputs that cannot be read as asked and
    the predictor's errors when it cannot load."""
    from tqdm import tqdm

    start = time.perf_counter()
    items = find_inputs(paths)
    formats = check_formats(formats)
    done = [] if force else [_skipped(item, out_dir, formats) for item in items]
    finished = [result for result in done if result is not None]
    skipped = {result.stem for result in finished}
    todo = [item for item in items if item.stem not in skipped]
    results: list[Result] = list(finished)
    with tqdm(total=None, unit="page", file=sys.stderr, disable=None, desc="reading") as bar:
        bar.set_postfix_str(f"0/{len(todo)} inputs")
        for result in _read_all(todo, out_dir, formats, mode, workers):
            results.append(result)
            if result.error is not None:
                bar.write(f"{result.path}\terror: {result.error}", file=sys.stderr)
            bar.update(result.pages)
            bar.set_postfix_str(f"{len(results) - len(finished)}/{len(todo)} inputs")
    print(summary(results, time.perf_counter() - start), file=sys.stderr)
    return sum(result.error is not None for result in results)


def summary(results: Sequence[Result], seconds: float) -> str:
    """One line on a run: inputs read (and their pages), skipped as finished, failed; seconds; pages per second."""
    read = [result for result in results if not result.skipped and result.error is None]
    pages = sum(result.pages for result in read)
    skipped = sum(result.skipped for result in results)
    failed = sum(result.error is not None for result in results)
    return (
        f"read {len(read)} inputs ({pages} pages), skipped {skipped} finished, {failed} failed, "
        f"in {seconds:.1f} s: {pages / max(seconds, 1e-9):.2f} pages/s"
    )


def read_collection_with_ray(
    sources: str | Sequence[str],
    out_dir: Path,
    formats: Sequence[str],
    mode: str = "page",
    workers: int = 1,
    force: bool = False,
) -> list[Result]:
    """Read every input under `sources` with Ray Data, `workers` actors of one CPU each loading the predictor once;
    the Result of each input, in the order found (print `summary(results, seconds)` for a summary).

    `sources`: local files and folders, or object-store URIs anything pyarrow's filesystems understand
    (`s3://bucket/prefix`, `gs://bucket/prefix`; credentials as pyarrow finds them, e.g. `AWS_*` variables). They
    are listed here, on the driver (finished inputs skipped before anything is fetched, unless `force`), fetched by
    `ray.data.read_binary_files`, read and written by the actors, to `out_dir` on the node each actor runs on.

    On this machine, Ray starts a local instance (`ray.init()`) unless one is running. On a cluster, set
    `RAY_ADDRESS` (`ray.init()` joins it: `RAY_ADDRESS=ray://head:10001`, or submit with `ray job submit`), install
    this package and its batch group on every node (one image for all), and make `out_dir` the same shared folder on
    every node (an NFS/EFS/Filestore mount, e.g. `/mnt/shared/out`): the outputs and manifests are files there.

    Raises ImportError (with how to install it) when Ray is missing, `InputError` as `find_inputs` does.
    """
    try:
        import ray
    except ImportError as e:
        raise ImportError(RAY_MISSING) from e

    formats = check_formats(formats)
    out_dir = Path(out_dir).resolve()  # the actors' working folder is not the driver's
    filesystem, bases, items = _find_stored_inputs([sources] if isinstance(sources, str) else list(sources))
    finished = [] if force else [result for item in items if (result := _skipped(item, out_dir, formats))]
    skipped = {result.stem for result in finished}
    todo = [item for item in items if item.stem not in skipped]
    rows: list[dict[str, Any]] = []
    if todo:
        started = not ray.is_initialized()
        if started:
            ray.init()
        try:
            # Fetching is I/O: with no CPU of its own it never waits for the CPUs the actors hold.
            files = ray.data.read_binary_files(
                [item.path for item in todo], filesystem=filesystem, include_paths=True, num_cpus=0
            )
            dataset = files.map_batches(
                ReadDocuments,
                fn_constructor_kwargs={"mode": mode, "out_dir": str(out_dir), "formats": formats, "bases": bases},
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=min(workers, len(todo))),
                num_cpus=1,
            )
            rows = list(dataset.iter_rows())
        finally:
            if started:
                ray.shutdown()
    by_path = {str(row["path"]): row for row in rows}
    results = list(finished)
    for item in todo:
        row = by_path.get(item.path)
        if row is None:
            results.append(Result(item.path, item.stem, error="Ray returned no result for it"))
        else:
            error = str(row["error"]) or None
            results.append(Result(item.path, item.stem, pages=int(row["pages"]), error=error))
    order = {item.stem: index for index, item in enumerate(items)}
    return sorted(results, key=lambda result: order[result.stem])


class ReadDocuments:
    """A Ray Data actor: loads the predictor once, then reads the documents of each batch (`bytes` and `path`
    columns, as `ray.data.read_binary_files(..., include_paths=True)` gives them) and writes their outputs; one row a
    document: `path`, `pages` (0 when it failed), `error` ("" when it did not)."""

    def __init__(self, mode: str, out_dir: str, formats: Sequence[str], bases: Sequence[tuple[str, bool]]):
        from text_recognizer.artifacts import THREADS_ENV_VAR
        from text_recognizer.predictors import load_predictor

        os.environ[THREADS_ENV_VAR] = "1"  # one CPU an actor
        self.predictor = load_predictor(mode)
        self.out_dir = Path(out_dir)
        self.formats = tuple(formats)
        self.bases = list(bases)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows: dict[str, list[Any]] = {"path": [], "pages": [], "error": []}
        for data, path in zip(batch["bytes"], batch["path"], strict=True):
            item = Input(str(path), _stem_of(str(path), self.bases))
            result = read_one(self.predictor, bytes(data), item, self.out_dir, self.formats)
            rows["path"].append(item.path)
            rows["pages"].append(result.pages)
            rows["error"].append(result.error or "")
        return rows


# Worker processes' predictor, loaded once by `_start_worker`.
_predictor: "Predictor | None" = None


def _start_worker(mode: str) -> None:
    from text_recognizer.artifacts import THREADS_ENV_VAR
    from text_recognizer.predictors import load_predictor

    global _predictor
    # Ctrl-C is the parent's to handle; it stops the pool with SIGTERM, here an exit that removes temporary files.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit)
    os.environ[THREADS_ENV_VAR] = "1"  # one process a core
    _predictor = load_predictor(mode)


def _exit(signum: int, frame: Any) -> None:
    sys.exit(128 + signum)


def _read_in_worker(job: tuple[Input, Path, tuple[str, ...]]) -> Result:
    item, out_dir, formats = job
    assert _predictor is not None, "the worker was started without _start_worker"
    return read_one(_predictor, item.path, item, out_dir, formats)


def _read_all(
    items: Sequence[Input], out_dir: Path, formats: tuple[str, ...], mode: str, workers: int
) -> Iterator[Result]:
    """Results as inputs finish: here with one worker, else in a pool of `workers` spawned processes."""
    from text_recognizer.predictors import load_predictor

    if not items:
        return
    predictor = load_predictor(mode)  # here too with a pool: a missing artifact is one clear error, not N workers'
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield read_one(predictor, item.path, item, out_dir, formats)
        return
    del predictor
    context = multiprocessing.get_context("spawn")  # no forked ONNX Runtime threads or locks
    with _ignoring_ctrl_c():  # workers start with Ctrl-C ignored: no tracebacks from them before their initializer
        pool = context.Pool(min(workers, len(items)), initializer=_start_worker, initargs=(mode,))
    with pool:
        yield from pool.imap_unordered(_read_in_worker, [(item, out_dir, formats) for item in items])


@contextlib.contextmanager
def _ignoring_ctrl_c() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread sets handlers
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _skipped(item: Input, out_dir: Path, formats: Sequence[str]) -> Result | None:
    pages = finished_pages(item.stem, out_dir, formats)
    return None if pages is None else Result(item.path, item.stem, pages=pages, skipped=True)


def _is_input(relative: Path | PurePosixPath) -> bool:
    """Whether a file at this path under a folder read is an input: a supported suffix, nothing hidden."""
    return relative.suffix.lower() in SUFFIXES and not any(part.startswith(".") for part in relative.parts)


def _stem_under(relative: str) -> str:
    """The stem of a file found at `relative` (a POSIX path) under a folder read: that path without its suffix."""
    path = PurePosixPath(relative)
    return str(path.with_name(path.stem))


def _stem_of(path: str, bases: Sequence[tuple[str, bool]]) -> str:
    """The stem of a stored input at `path`, from the first base (a path, and whether it is a file) it is under."""
    for base, is_file in bases:
        if is_file and path == base:
            return PurePosixPath(path).stem
        if not is_file and path.startswith(base.rstrip("/") + "/"):
            return _stem_under(path[len(base.rstrip("/")) + 1 :])
    raise ValueError(f"{path} is under none of {[base for base, _ in bases]}")


def _find_stored_inputs(sources: Sequence[str]) -> tuple[Any, list[tuple[str, bool]], list[Input]]:
    """The inputs under local paths or object-store URIs, as `find_inputs` finds them: the pyarrow filesystem they
    are on (one for all), the bases they were found under, and the inputs (their paths on that filesystem)."""
    import pyarrow.fs

    filesystem: Any = None
    bases: list[tuple[str, bool]] = []
    found: list[Input] = []
    seen: set[str] = set()
    for source in sources:
        if "://" in str(source):
            source_filesystem, base = pyarrow.fs.FileSystem.from_uri(str(source))
        else:
            source_filesystem, base = pyarrow.fs.LocalFileSystem(), Path(source).resolve().as_posix()
        if filesystem is None:
            filesystem = source_filesystem
        elif type(source_filesystem) is not type(filesystem):
            raise InputError(f"{source}: all sources read at once must be on one filesystem")
        info = filesystem.get_file_info(base)
        if info.type == pyarrow.fs.FileType.Directory:
            infos = filesystem.get_file_info(pyarrow.fs.FileSelector(base, recursive=True))
            base = base.rstrip("/")
            files = sorted(
                (entry.path for entry in infos if entry.type == pyarrow.fs.FileType.File),
                key=lambda path: path[len(base) + 1 :],
            )
            paths = [path for path in files if _is_input(PurePosixPath(path[len(base) + 1 :]))]
            bases.append((base, False))
        elif info.type == pyarrow.fs.FileType.File:
            if PurePosixPath(base).suffix.lower() not in SUFFIXES:
                raise InputError(f"{source}: not a supported input (supported: {', '.join(SUFFIXES)})")
            paths = [base]
            bases.append((base, True))
        else:
            raise InputError(f"{source}: no such file or folder")
        for path in paths:
            if path not in seen:
                seen.add(path)
                found.append(Input(path, _stem_of(path, bases)))
    return filesystem, bases, _checked(found, sources)


def _checked(items: list[Input], sources: Iterable[Any]) -> list[Input]:
    """`items`, after checking there is one at least and no two share a stem (their outputs would collide)."""
    if not items:
        raise InputError(f"No inputs ({', '.join(SUFFIXES)}) in {', '.join(map(str, sources))}")
    first: dict[str, Input] = {}
    for item in items:
        if item.stem in first:
            raise InputError(
                f"{first[item.stem].path} and {item.path} would write the same outputs ({item.stem}.*): "
                "rename one, or read them in separate runs with separate --out folders"
            )
        first[item.stem] = item
    return items
