"""Datasets: the registry of every dataset bnviz knows, their readers, and your own files.

Owns: built-in toy problems, the classic image sets' files, uploads and their checks, and
`load_dataset`, the one entry point training uses. May import: the shared vocabulary
(`bnviz.errors`, `bnviz.settings`) and nothing else of bnviz; it knows no config, model or store.
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

__all__ = ["DATASET_INFO", "ENV_DATA_DIR", "Dataset", "DatasetError", "DatasetInfo", "UploadSummary",
           "clear_cache", "data_dir", "inspect_upload", "load_dataset", "read_idx_gz", "write_idx_gz"]
