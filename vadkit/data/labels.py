"""Frame-level label files of the public VAD code, read without ever unpickling.

Formats (``label_format`` names):

- ``mat_intervals``: ``.mat`` with a ``gt`` cell of 2xK [start; end] 1-based inclusive intervals
  per test video (FFP's ped2.mat / avenue.mat);
- ``mat_frames``: ``.mat`` with a cell of per-frame 0/1 arrays, or one per-frame array per video
  name;
- ``npy_flat``: MNAD's ``frame_labels_<name>.npy``, all test videos concatenated in order;
- ``npz_frames`` / ``json_frames``: a dict video name -> per-frame 0/1 array;
- ``ucsd_m``: UCSD's ``UCSDped*.m`` (``TestVideoFile{n}.gt_frame = [a:b, c:d]``);
- ``npy_per_video``: ShanghaiTech's ``test_frame_mask/<video>.npy``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import scipy.io

from vadkit.errors import DataError

from .video import Video, natural_key


def _per_frame(arr: np.ndarray, file: Path, video: Video) -> np.ndarray:
    """A per-frame 0/1 array that must have exactly one value per frame of ``video``."""
    arr = np.asarray(arr).ravel()
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{file}: video '{video.name}': labels are not numeric (dtype {arr.dtype})")
    n = video.num_frames
    if arr.size != n:
        first = min(arr.size, n)
        raise DataError(
            f"{file}: video '{video.name}' ({video.split}), frame {first}: label array has {arr.size} values "
            f"but the video has {n} frames"
        )
    bad = np.flatnonzero((arr != 0) & (arr != 1))
    if bad.size:
        raise DataError(f"{file}: video '{video.name}', frame {int(bad[0])}: label {arr[bad[0]]} is not 0 or 1")
    return arr.astype(np.uint8)


def _intervals(spans: list[tuple[int, int]], file: Path, video: Video) -> np.ndarray:
    """0/1 labels from 1-based inclusive [start, end] intervals."""
    out = np.zeros(video.num_frames, np.uint8)
    for start, end in spans:
        if start < 1 or end < start or end > video.num_frames:
            bad = end - 1 if end > video.num_frames else start - 1
            raise DataError(
                f"{file}: video '{video.name}' ({video.split}), frame {bad}: interval [{start}, {end}] (1-based) "
                f"does not fit the video's {video.num_frames} frames"
            )
        out[start - 1 : end] = 1
    return out


def _count_check(entries: int, file: Path, videos: list[Video], what: str) -> None:
    if entries != len(videos):
        last = videos[min(entries, len(videos) - 1)].name if videos else "?"
        raise DataError(
            f"{file}: has {what} for {entries} videos but the split has {len(videos)} videos "
            f"(first unmatched video '{last}', frame 0)"
        )


def _mat_element(elem: np.ndarray, file: Path, video: Video) -> tuple[str, np.ndarray]:
    arr = np.asarray(elem)
    if arr.ndim == 2 and arr.shape[0] == 2 and arr.size != video.num_frames:
        spans = [(int(a), int(b)) for a, b in arr.T]
        return "mat_intervals", _intervals(spans, file, video)
    return "mat_frames", _per_frame(arr, file, video)


def read_mat(file: Path, videos: list[Video]) -> str:
    try:
        mat = scipy.io.loadmat(str(file))
    except NotImplementedError:
        raise DataError(f"{file}: MATLAB v7.3 (HDF5) files are not supported; save with -v7") from None
    except Exception as exc:  # scipy raises several types for damaged files
        raise DataError(f"{file}: cannot read .mat file: {exc}") from None
    keys = [k for k in mat if not k.startswith("__")]
    names = {v.name for v in videos}
    if names and names <= set(keys):
        for v in videos:
            v.labels = _per_frame(mat[v.name], file, v)
        return "mat_frames"
    key = "gt" if "gt" in keys else (keys[0] if len(keys) == 1 else None)
    if key is None:
        raise DataError(f"{file}: no 'gt' variable (found {', '.join(keys) or 'none'})")
    cell = mat[key]
    if cell.dtype != object:
        raise DataError(f"{file}: '{key}' must be a cell array with one entry per video, got {cell.dtype} {cell.shape}")
    elems = list(cell.ravel())
    _count_check(len(elems), file, videos, f"'{key}' entries")
    fmt = "mat_intervals"
    for v, elem in zip(videos, elems):
        fmt, v.labels = _mat_element(elem, file, v)
    return fmt


def _load_npy(file: Path) -> np.ndarray:
    try:
        return np.load(file, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{file}: not a plain numeric .npy (pickled objects are never loaded): {exc}") from None
    except Exception as exc:
        raise DataError(f"{file}: cannot read .npy file: {exc}") from None


def read_flat_npy(file: Path, videos: list[Video]) -> str:
    arr = _load_npy(file).ravel()
    total = sum(v.num_frames for v in videos)
    offset = 0
    for v in videos:
        chunk = arr[offset : offset + v.num_frames]
        if chunk.size != v.num_frames:
            raise DataError(
                f"{file}: video '{v.name}' ({v.split}), frame {chunk.size}: label file has {arr.size} values "
                f"but the {len(videos)} videos have {total} frames (truncated?)"
            )
        v.labels = _per_frame(chunk, file, v)
        offset += v.num_frames
    if arr.size != total:
        last = videos[-1] if videos else None
        raise DataError(
            f"{file}: video '{last.name if last else '?'}', frame {last.num_frames if last else 0}: label file has "
            f"{arr.size} values but the {len(videos)} videos have {total} frames ({arr.size - total} extra)"
        )
    return "npy_flat"


def read_dict(file: Path, videos: list[Video]) -> str:
    if file.suffix == ".json":
        try:
            table = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{file}: cannot read JSON labels: {exc}") from None
        fmt = "json_frames"
    else:
        try:
            table = dict(np.load(file, allow_pickle=False))
        except Exception as exc:
            raise DataError(f"{file}: cannot read .npz labels (pickled objects are never loaded): {exc}") from None
        fmt = "npz_frames"
    for v in videos:
        if v.name not in table:
            raise DataError(f"{file}: video '{v.name}' ({v.split}), frame 0: no labels for this video")
        v.labels = _per_frame(np.asarray(table[v.name]), file, v)
    return fmt


_UCSD_LINE = re.compile(r"TestVideoFile\s*\{\s*(end\s*\+\s*1|\d+)\s*\}\s*\.\s*gt_frame\s*=\s*\[([^\]]*)\]")


def read_ucsd_m(file: Path, videos: list[Video]) -> str:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"{file}: cannot read: {exc}") from None
    entries: dict[int, list[tuple[int, int]]] = {}
    count = 0
    for m in _UCSD_LINE.finditer(text):
        idx = count + 1 if m.group(1).replace(" ", "") == "end+1" else int(m.group(1))
        count = max(count, idx)
        spans = []
        for token in re.split(r"[,;\s]+", m.group(2).strip()):
            if not token:
                continue
            a, _, b = token.partition(":")
            try:
                spans.append((int(a), int(b or a)))
            except ValueError:
                raise DataError(f"{file}: TestVideoFile{{{idx}}}: cannot parse '{token}'") from None
        entries[idx] = spans
    _count_check(count, file, videos, "gt_frame")
    for i, v in enumerate(videos, start=1):
        v.labels = _intervals(entries.get(i, []), file, v)
    return "ucsd_m"


def read_per_video(directory: Path, videos: list[Video]) -> str:
    for v in videos:
        file = directory / f"{v.name}.npy"
        if not file.is_file():
            raise DataError(f"{file}: video '{v.name}' ({v.split}), frame 0: label file missing")
        v.labels = _per_frame(_load_npy(file), file, v)
    return "npy_per_video"


def load_labels(path: Path, videos: list[Video]) -> str:
    """Fill ``labels`` of ``videos`` (in order) from ``path``; returns the label format name."""
    if path.is_dir():
        return read_per_video(path, videos)
    if not path.is_file():
        raise DataError(f"{path}: label file not found")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return read_mat(path, videos)
    if suffix == ".npy":
        return read_flat_npy(path, videos)
    if suffix in (".npz", ".json"):
        return read_dict(path, videos)
    if suffix == ".m":
        return read_ucsd_m(path, videos)
    raise DataError(f"{path}: unknown label format (expected .mat, .npy, .npz, .json, .m or a folder of .npy)")


def find_label_file(root: Path, extra_dirs: tuple[Path, ...] = ()) -> Path | None:
    """The label file a layout most likely uses. Preference: per-video masks, .mat, flat .npy, .m."""
    dirs = [root, *extra_dirs]
    for d in dirs:
        for name in ("test_frame_mask",):
            if (d / name).is_dir():
                return d / name
    for d in dirs:
        mats = sorted(d.glob("*.mat"), key=lambda p: natural_key(p.name)) if d.is_dir() else []
        if mats:
            return mats[0]
    sibling = root.parent / f"{root.name}.mat"
    if sibling.is_file():
        return sibling
    for d in dirs:
        if not d.is_dir():
            continue
        for pattern in ("frame_labels_*.npy", "*.m", "labels.npz", "labels.json"):
            found = sorted(d.glob(pattern), key=lambda p: natural_key(p.name))
            if found:
                return found[0]
    return None


def resolve_label_path(root: Path, labels: str | Path) -> Path:
    path = Path(labels).expanduser()
    return path if path.is_absolute() else root / path
