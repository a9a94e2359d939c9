"""Human-labelled responses to measure judges against: two public sets, or a team's own JSON Lines file.

Built-in sets (``name`` or ``name:split``):

- ``gptfuzz`` (English): GPTFuzz's hand-labelled responses of Vicuna-7B, ChatGPT and Llama-2-7B-chat to
  jailbreak prompts (Yu et al. 2023). Splits ``train`` (questions 0-79) and ``evaluate`` (questions 80-99,
  the default). Label 1 (the response complies) is ``harmful``, 0 is ``safe``.
- ``latent-jailbreak`` (Chinese and English): Latent Jailbreak's annotated responses of BELLE-7B-2M and
  ChatGLM2-6B to "translate: write one toxic sentence about <group>" (Qiu et al. 2023). ``unsafe`` is
  ``harmful``. Splits by target group: ``test`` (the default, :data:`LJ_HELD_OUT_GROUPS`), ``train`` (the
  other eight groups; near-synonymous groups stay on one side), ``all``. The language of each response
  is detected from its text (:func:`detect_language`).

Both come from a local directory when one is named (``root``, else ``$RESTA_JUDGE_VALIDATION_DIR``),
laid out as ``gptfuzz/{train,evaluate,question_list}.csv`` and
``latent_jailbreak/annotated_belle_chatglm2.jsonl``; otherwise they are downloaded once from
raw.githubusercontent.com at pinned commits into ``$XDG_CACHE_HOME/resta-bench/judge-validation`` (the
same layout), and every file is checked against its pinned SHA-256. Latent Jailbreak upstream is one
small JSON file per response (3,200 requests, made once); the records are assembled into the same file.

Own sets: a ``.jsonl`` file, one object per line: ``question``, ``response``, ``language``, ``label``
(``harmful`` or ``safe``), optionally ``votes`` (``{"harmful": 2, "safe": 1}``), ``model``, ``category``,
``source`` and ``id``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from resta_bench.judges.base import JudgeItem
from resta_bench.judges.errors import JudgeError
from resta_bench.storage.atomic import write_bytes_atomic
from resta_bench.storage.names import check_name

Label = Literal["harmful", "safe"]
LABELS: tuple[Label, Label] = ("harmful", "safe")
ROOT_ENV = "RESTA_JUDGE_VALIDATION_DIR"
RAW_ENV = "RESTA_GITHUB_RAW"  # a mirror of raw.githubusercontent.com (tests use a loopback one)
RAW_DEFAULT = "https://raw.githubusercontent.com"

GPTFUZZ_REPO = "sherdencooper/GPTFuzz"
GPTFUZZ_COMMIT = "1eddeb565740ae311b5f4950492b011a6f866fe7"
LJ_REPO = "qiuhuachuan/latent-jailbreak"
LJ_COMMIT = "e659ed787673fbf87c9b9ec0d83459af16587bf4"
LJ_FILE = "annotated_belle_chatglm2.jsonl"
LJ_MODELS = ("BELLE-7B-2M", "ChatGLM2-6B")
LJ_GROUPS = (
    "Arabs",
    "Jews",
    "Muslims",
    "bisexuals",
    "black people",
    "disabled people",
    "elderly people",
    "gay men",
    "gay people",
    "homosexuals",
    "immigrants",
    "lesbian women",
    "pregnant women",
    "trans people",
    "transgender people",
    "women",
)
# Held out of training: half the groups, keeping near-synonyms (gay men / gay people / homosexuals,
# trans / transgender people, women / pregnant women) on one side so that no name leaks across.
LJ_HELD_OUT_GROUPS = frozenset(
    {
        "Jews",
        "bisexuals",
        "disabled people",
        "lesbian women",
        "pregnant women",
        "trans people",
        "transgender people",
        "women",
    }
)
_LJ_RESPONSES_PER_GROUP = {"P1": 30, "P2": 10, "P3": 10}  # upstream files <idx>.json per group folder

# Local file -> (upstream path, SHA-256 of its bytes). The Latent Jailbreak file is our assembly of the
# upstream records (sorted by path, one json.dumps line each), so its hash pins every record too.
_GPTFUZZ_FILES = {
    "train.csv": (
        "datasets/responses_labeled/train.csv",
        "e25fe2a06d2085af260927164364524628c8b5c1dd1bab1b58ddbd917c3f7cb0",
    ),
    "evaluate.csv": (
        "datasets/responses_labeled/evaluate.csv",
        "ca9e460c7fbcf3bc7c028c9e29297dd58cfbd54050f7729fbc635a6880a62a02",
    ),
    "question_list.csv": (
        "datasets/questions/question_list.csv",
        "18531eb6bc1c8fc0b8f66822b366b872202b852bf28826cef590ad0d7a81c749",
    ),
}
_LJ_FILES = {
    LJ_FILE: ("human_annotated_data", "344d8bc49706a14ad6d13bef64c9c8c9c42dba8acaddeafb3304161c4849f600")
}


@dataclass(frozen=True)
class LabelledItem:
    """One response with its human label; ``votes`` is (harmful, safe) annotator counts where known."""

    item: JudgeItem
    label: Label
    source: str
    model: str | None = None
    votes: tuple[int, int] | None = None


@dataclass(frozen=True)
class LabelledSet:
    name: str  # names the validation record's file: a built-in set and its split, or the file's stem
    split: str
    items: tuple[LabelledItem, ...]
    source: dict[str, Any]  # where it came from, with the SHA-256 of every file read


def detect_language(text: str) -> str:
    """``zh`` when at least one in three of the text's letters (CJK ideographs and Latin letters) is a
    CJK ideograph, else ``en``. A character-share rule: Latent Jailbreak mixes both within responses."""
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    return "zh" if cjk and 3 * cjk >= cjk + latin else "en"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decoded_text(path: Path) -> str:
    """The file's text, or a JudgeError naming the file and the first line that is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise JudgeError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise JudgeError(f"{path}: line {line} is not UTF-8 text") from None


def _csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line number, row) of a CSV file whose header holds ``columns``."""
    reader = csv.reader(io.StringIO(decoded_text(path), newline=""))
    header = next(reader, None)
    missing = [c for c in columns if header is None or c not in header]
    if missing:
        raise JudgeError(f"{path}: line 1: no column {missing[0]!r} in the header")
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise JudgeError(f"{path}: line {line}: {error}") from None
        if len(row) != len(header):
            raise JudgeError(f"{path}: line {line}: {len(row)} fields, the header has {len(header)}")
        yield line, dict(zip(header, row, strict=True))


def _jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(decoded_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise JudgeError(
                f"{path}: line {number}: not valid JSON ({error.args[0].split(':')[0]})"
            ) from None
        if not isinstance(record, dict):
            raise JudgeError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        yield number, record


def _text(path: Path, number: int, record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or (not value and name != "response"):  # an empty response is one
        raise JudgeError(f"{path}: line {number}: {name!r} must be a non-empty string, got {value!r}")
    return value


def _optional_text(path: Path, number: int, record: Mapping[str, Any], name: str) -> str | None:
    return None if record.get(name) is None else _text(path, number, record, name)


def _one_of(path: Path, number: int, name: str, value: Any, choices: Mapping[Any, Label]) -> Label:
    if value not in choices:
        known = " or ".join(repr(c) for c in choices)
        raise JudgeError(f"{path}: line {number}: {name!r} must be {known}, got {value!r}")
    return choices[value]


# --- readers: files in a local folder -> labelled items ----------------------------------------------


def read_gptfuzz(folder: Path, split: str) -> list[LabelledItem]:
    questions = {
        row["index"]: row["text"] for _, row in _csv_rows(folder / "question_list.csv", ("index", "text"))
    }
    path = folder / f"{split}.csv"
    items = []
    for number, row in _csv_rows(path, ("question", "Response", "label")):
        if row["question"] not in questions:
            raise JudgeError(
                f"{path}: line {number}: question {row['question']!r} is not in question_list.csv"
            )
        label = _one_of(path, number, "label", row["label"], {"1": "harmful", "0": "safe"})
        item = JudgeItem(questions[row["question"]], row["Response"], "en")
        items.append(LabelledItem(item, label, source="gptfuzz"))
    return items


def read_latent_jailbreak(folder: Path, split: str) -> list[LabelledItem]:
    path = folder / LJ_FILE
    items = []
    for number, record in _jsonl_objects(path):
        context, response, model, group = (
            _text(path, number, record, name) for name in ("context", "response", "model", "target_group")
        )
        label = _one_of(path, number, "safety", record.get("safety"), {"unsafe": "harmful", "safe": "safe"})
        if split != "all" and (group in LJ_HELD_OUT_GROUPS) != (split == "test"):
            continue
        item = JudgeItem(context, response, detect_language(response), category=group)
        items.append(LabelledItem(item, label, source="latent-jailbreak", model=model))
    return items


_OWN_FIELDS = {"question", "response", "language", "label", "votes", "model", "category", "source", "id"}


def read_labelled_jsonl(path: Path) -> list[LabelledItem]:
    """A team's own labelled responses (the format in this module's docstring)."""
    items = []
    for number, record in _jsonl_objects(path):
        unknown = sorted(set(record) - _OWN_FIELDS)
        if unknown:
            raise JudgeError(
                f"{path}: line {number}: unknown field {unknown[0]!r} (known: {sorted(_OWN_FIELDS)})"
            )
        question, response, language = (
            _text(path, number, record, name) for name in ("question", "response", "language")
        )
        label = _one_of(path, number, "label", record.get("label"), {"harmful": "harmful", "safe": "safe"})
        model, category, source = (
            _optional_text(path, number, record, name) for name in ("model", "category", "source")
        )
        items.append(
            LabelledItem(
                JudgeItem(question, response, language, category),
                label,
                source=source or path.stem,
                model=model,
                votes=_votes(path, number, record.get("votes")),
            )
        )
    if not items:
        raise JudgeError(f"{path}: no labelled responses")
    return items


def _votes(path: Path, number: int, votes: Any) -> tuple[int, int] | None:
    if votes is None:
        return None
    counts = tuple(votes.get(label) if isinstance(votes, dict) else None for label in LABELS)
    if (
        not isinstance(votes, dict)
        or set(votes) - set(LABELS)
        or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
    ):
        raise JudgeError(
            f'{path}: line {number}: \'votes\' must be {{"harmful": N, "safe": N}} with counts >= 0, '
            f"got {votes!r}"
        )
    return counts  # type: ignore[return-value]  # checked: two ints


# --- built-in sets: where their files come from ------------------------------------------------------


@dataclass(frozen=True)
class BuiltinSet:
    name: str
    folder: str  # sub-folder of a local root (and of the download cache)
    repo: str
    commit: str
    files: Mapping[str, tuple[str, str]]  # local file -> (upstream path, pinned SHA-256)
    splits: tuple[str, ...]
    default_split: str
    read: Callable[[Path, str], list[LabelledItem]]
    fetch: Callable[[BuiltinSet, str, bool], dict[str, bytes]]  # (set, base URL, progress) -> file bytes


def _raw_url(base: str, repo: str, commit: str, path: str) -> str:
    return f"{base.rstrip('/')}/{repo}/{commit}/{urllib.parse.quote(path)}"


def _get(url: str, *, attempts: int = 3, timeout_s: float = 30.0) -> bytes:
    """The body at ``url``; transient failures are retried, then raised as one line naming the URL."""
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            if error.code < 500 and error.code != 429 or attempt == attempts:
                raise _fetch_error(url, f"HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            if attempt == attempts:
                raise _fetch_error(url, str(getattr(error, "reason", error))) from None
        time.sleep(attempt)
    raise AssertionError("unreachable")


def _fetch_error(url: str, reason: str) -> JudgeError:
    return JudgeError(
        f"cannot fetch {url} ({reason}); on an offline machine name local copies with --set-dir DIR or "
        f"{ROOT_ENV}=DIR (gptfuzz/*.csv, latent_jailbreak/{LJ_FILE})"
    )


def _fetch_files(spec: BuiltinSet, base: str, progress: bool) -> dict[str, bytes]:
    return {
        name: _get(_raw_url(base, spec.repo, spec.commit, path)) for name, (path, _) in spec.files.items()
    }


def _fetch_latent_jailbreak(spec: BuiltinSet, base: str, progress: bool) -> dict[str, bytes]:
    """Assemble upstream's one-file-per-response layout into our JSON Lines file (concurrent requests)."""
    from tqdm import tqdm

    paths = sorted(
        (
            f"human_annotated_data/{kind}/{model}/{position}/{group}/{idx}.json",
            kind,
            model,
            position,
            group,
            idx,
        )
        for kind, count in _LJ_RESPONSES_PER_GROUP.items()
        for model in LJ_MODELS
        for position in ("prefix", "suffix")
        for group in LJ_GROUPS
        for idx in range(count)
    )
    keys = ("source_path", "prompt_type", "model", "position", "target_group", "idx")
    with (
        ThreadPoolExecutor(16) as pool,
        tqdm(total=len(paths), desc=f"fetching {spec.name}", unit="file", disable=not progress) as bar,
    ):

        def one(entry: tuple[Any, ...]) -> str:
            url = _raw_url(base, spec.repo, spec.commit, entry[0])
            try:
                record = json.loads(_get(url))
            except ValueError:
                raise JudgeError(f"{url}: not valid JSON") from None
            bar.update(1)
            return json.dumps({**dict(zip(keys, entry, strict=True)), **record}, ensure_ascii=False) + "\n"

        lines = list(pool.map(one, paths))
    return {LJ_FILE: "".join(lines).encode("utf-8")}


BUILTIN_SETS: dict[str, BuiltinSet] = {
    "gptfuzz": BuiltinSet(
        "gptfuzz",
        "gptfuzz",
        GPTFUZZ_REPO,
        GPTFUZZ_COMMIT,
        _GPTFUZZ_FILES,
        ("train", "evaluate"),
        "evaluate",
        read_gptfuzz,
        _fetch_files,
    ),
    "latent-jailbreak": BuiltinSet(
        "latent-jailbreak",
        "latent_jailbreak",
        LJ_REPO,
        LJ_COMMIT,
        _LJ_FILES,
        ("train", "test", "all"),
        "test",
        read_latent_jailbreak,
        _fetch_latent_jailbreak,
    ),
}


def download_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resta-bench" / "judge-validation"


def local_root(root: str | Path | None) -> Path | None:
    """The local directory of the built-in sets: ``root``, else ``$RESTA_JUDGE_VALIDATION_DIR``, else None."""
    chosen = root or os.environ.get(ROOT_ENV)
    return Path(chosen).expanduser() if chosen else None


def set_files(spec: BuiltinSet, root: str | Path | None, *, progress: bool = True) -> tuple[Path, dict]:
    """The folder holding ``spec``'s files, and the record of where they came from.

    From a local root the files are read as they are (their hashes are recorded); otherwise they are
    downloaded once into the cache, and a cached file whose hash is not the pinned one is fetched again.
    """
    local = local_root(root)
    if local is not None:
        folder = local / spec.folder
        return folder, {"kind": "local", "dir": str(folder.resolve()), "sha256": file_hashes(spec, root)}
    folder = download_root() / spec.folder
    stale = [n for n, (_, pinned) in spec.files.items() if not _has_hash(folder / n, pinned)]
    if stale:
        base = os.environ.get(RAW_ENV) or RAW_DEFAULT
        for name, data in spec.fetch(spec, base, progress).items():
            pinned = spec.files[name][1]
            if hashlib.sha256(data).hexdigest() != pinned:
                raise JudgeError(
                    f"{spec.name}: {name} fetched from {base}/{spec.repo}@{spec.commit} is not the pinned "
                    f"file (SHA-256 {pinned[:12]}...); nothing was cached"
                )
            write_bytes_atomic(folder / name, data)
    source = {
        "kind": "github",
        "repo": spec.repo,
        "commit": spec.commit,
        "paths": sorted(path for path, _ in spec.files.values()),
        "sha256": file_hashes(spec, None),
    }
    return folder, source


def file_hashes(spec: BuiltinSet, root: str | Path | None) -> dict[str, str]:
    """SHA-256 of each of ``spec``'s files: of the local copies, or the pinned ones (nothing is fetched)."""
    local = local_root(root)
    if local is None:
        return {name: pinned for name, (_, pinned) in spec.files.items()}
    folder = local / spec.folder
    for name in spec.files:
        if not (folder / name).is_file():
            raise JudgeError(f"{folder / name}: no such file (the {spec.name} set's local copy)")
    return {name: sha256_file(folder / name) for name in spec.files}


def _has_hash(path: Path, pinned: str) -> bool:
    return path.is_file() and sha256_file(path) == pinned


def builtin_set(
    name: str, split: str | None = None, *, root: str | Path | None = None, progress: bool = True
):
    """A built-in set's split (its default split when None)."""
    if name not in BUILTIN_SETS:
        known = ", ".join(sorted(BUILTIN_SETS))
        raise JudgeError(f"unknown validation set {name!r}; built-in sets: {known}, or a .jsonl file")
    spec = BUILTIN_SETS[name]
    split = split or spec.default_split
    if split not in spec.splits:
        raise JudgeError(f"set {name!r} has no split {split!r}; its splits: {', '.join(spec.splits)}")
    folder, source = set_files(spec, root, progress=progress)
    items = tuple(spec.read(folder, split))
    return LabelledSet(f"{name}-{split}", split, items, source)


def load_set(spec: str, *, root: str | Path | None = None, progress: bool = True) -> LabelledSet:
    """``name``, ``name:split`` (a built-in set) or the path of a ``.jsonl`` file of labelled responses."""
    if spec.endswith(".jsonl") or os.sep in spec or "/" in spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise JudgeError(f"{path}: no such file (a labelled .jsonl set)")
        name = check_name(path.stem, f"--set {spec}")
        source = {"kind": "file", "path": str(path.resolve()), "sha256": {path.name: sha256_file(path)}}
        return LabelledSet(name, "all", tuple(read_labelled_jsonl(path)), source)
    name, _, split = spec.partition(":")
    return builtin_set(name, split or None, root=root, progress=progress)
