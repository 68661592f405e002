"""Datasets: the registry of every dataset bnviz knows, their readers, and your own files.

Owns: the dataset registry (`bnviz.data.registry`: one entry per dataset, its loader included),
built-in toy problems, the classic image sets' files, uploads and their checks, and `load_dataset`,
the one entry point training uses. May import: the shared vocabulary (`bnviz.errors`,
`bnviz.settings`) and nothing else of bnviz; it knows no config, model or store (a config is read
through the `DatasetSpec` protocol).
"""

from bnviz.data.loading import (
    DATASET_INFO,
    ENV_DATA_DIR,
    Dataset,
    DatasetError,
    DatasetInfo,
    UploadSummary,
    clear_cache,
    data_dir,
    inspect_upload,
    load_dataset,
    read_idx_gz,
    write_idx_gz,
)
from bnviz.data.registry import REGISTRY, DatasetEntry, DatasetRegistry
from bnviz.data.source import DatasetSpec, Loaded, LoadOptions, RawData

__all__ = ["DATASET_INFO", "ENV_DATA_DIR", "REGISTRY", "Dataset", "DatasetEntry", "DatasetError", "DatasetInfo",
           "DatasetRegistry", "DatasetSpec", "LoadOptions", "Loaded", "RawData", "UploadSummary", "clear_cache",
           "data_dir", "inspect_upload", "load_dataset", "read_idx_gz", "write_idx_gz"]
