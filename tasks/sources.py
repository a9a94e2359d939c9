"""Where each benchmark's data files come from: a local directory the user names, or a pinned download.

A local directory wins when given, first as ``--metadata <key>=DIR`` (lm-eval hands task metadata to the
dataset functions), then as an environment variable; otherwise the file is downloaded once, at a pinned
revision, into the Hugging Face datasets cache (which also serves offline machines that ran it before).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resta_bench.tasks.errors import TaskError

CATQA_REPO = "declare-lab/CategoricalHarmfulQA"
# Latest commit seen of the dataset card; the data files were last changed by the rename to catqa_*.json.
CATQA_REVISION = "321e068b391b7d1aeeb882ac468356a9513c9167"
REDEVAL_REPO = "declare-lab/red-instruct"
REDEVAL_COMMIT = "73c759c93d2f6b1d8c7b058ab7bcec5fb0c28fa2"
XSTEST_REPO = "paul-rottger/exaggerated-safety"
XSTEST_COMMIT = "d7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d"


@dataclass(frozen=True)
class DataSource:
    """One benchmark's data: how the user names a local copy, and the URL prefix of the pinned original."""

    name: str
    metadata_key: str
    env_var: str
    remote_prefix: str

    def local_dir(self, metadata: Mapping[str, Any]) -> Path | None:
        directory = metadata.get(self.metadata_key) or os.environ.get(self.env_var)
        return Path(str(directory)).expanduser() if directory else None

    def locate(self, filename: str, metadata: Mapping[str, Any]) -> Path:
        """The local path of ``filename``; without a local directory, the pinned original is downloaded."""
        directory = self.local_dir(metadata)
        if directory is not None:
            path = directory / filename
            if not path.is_file():
                raise TaskError(
                    f"{path}: no such file (the {self.name} directory named by {self.metadata_key} / "
                    f"{self.env_var} must hold {filename})"
                )
            return path
        return _download(f"{self.remote_prefix}/{filename}", self)


CATQA = DataSource(
    name="CatQA",
    metadata_key="catqa_dir",
    env_var="CATQA_DIR",
    remote_prefix=f"https://huggingface.co/datasets/{CATQA_REPO}/resolve/{CATQA_REVISION}/data",
)
REDEVAL = DataSource(
    name="RedEval question banks",
    metadata_key="redeval_dir",
    env_var="REDEVAL_DIR",
    remote_prefix=f"https://raw.githubusercontent.com/{REDEVAL_REPO}/{REDEVAL_COMMIT}/harmful_questions",
)
XSTEST = DataSource(
    name="XSTest",
    metadata_key="xstest_dir",
    env_var="XSTEST_DIR",
    remote_prefix=f"https://raw.githubusercontent.com/{XSTEST_REPO}/{XSTEST_COMMIT}",
)


def _download(url: str, source: DataSource) -> Path:
    from datasets.utils.file_utils import cached_path

    try:
        return Path(cached_path(url))
    except Exception as error:  # offline mode, no network, HTTP errors: all mean "use a local copy"
        raise TaskError(
            f"cannot fetch {url} ({type(error).__name__}); on an offline machine name a local copy with "
            f"--metadata {source.metadata_key}=DIR or {source.env_var}=DIR"
        ) from None
