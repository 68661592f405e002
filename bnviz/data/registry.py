"""The one list of datasets bnviz knows: each name with what it is, its shape, classes and loader.

Adding a dataset is one `register(DatasetEntry(...))`: the config accepts its name, the
Experiment form offers it, `python -m bnviz datasets` lists it, the model summary knows its
input shape and `load_dataset` trains on it. Nothing else keeps a list of dataset names.

The built-in entries are registered below, when this module is imported; their loaders live in
`bnviz.data.toys`, `bnviz.data.downloads` and `bnviz.data.uploads`. An entry registered later (a
plugin, a test) exists in the process that registered it: helper processes and workers see it
only if they import the module that registers it.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from bnviz.data import downloads, toys, uploads
from bnviz.data.source import DatasetError, DatasetSpec, Loaded, LoadOptions

__all__ = ["KINDS", "OPTIONS", "REGISTRY", "DatasetEntry", "DatasetRegistry", "Loader", "entries", "get",
           "names", "register", "unregister"]

KINDS = ("tabular", "image", "any")  # any: the file decides (an npz holds a table or images)
OPTIONS = ("noise", "n_classes", "label_column")  # settings only some datasets read
Loader = Callable[[DatasetSpec, LoadOptions], Loaded]
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True)
class DatasetEntry:
    """Everything bnviz says about one dataset before loading it, and how to load it.

    `loader(settings, options)` returns `Loaded`: the raw arrays and the rows the settings
    select; `load_dataset` takes those rows and preprocesses them."""

    name: str  # what a config's dataset.name says: lowercase letters, digits, _
    title: str  # what the form shows
    description: str  # one or two sentences under the form's choice
    kind: str  # "tabular", "image" or "any" (a file decides)
    loader: Loader = field(repr=False, compare=False)
    input_shape: tuple[int, ...] | None = None  # one example's shape; None: a file decides
    classes: int | None = None  # None: the config (n_classes in options) or a file decides
    class_names: tuple[str, ...] | None = None  # None: "0", "1", ... or what a file says
    n_train: int | None = None  # default training examples; None: all the file holds
    n_test: int | None = None
    downloadable: bool = False  # fetched once through Keras, then cached (the report states its full size)
    is_file: bool = False  # your own file: the config's path, a file of type .<name>
    options: tuple[str, ...] = ()  # which of OPTIONS the form offers for it

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"dataset name {self.name!r}: use 1 to 40 lowercase letters, digits or _, "
                             f"starting with a letter")
        if self.kind not in KINDS:
            raise ValueError(f"dataset {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        unknown = [o for o in self.options if o not in OPTIONS]
        if unknown:
            raise ValueError(f"dataset {self.name!r}: option {unknown[0]!r} is not one of {', '.join(OPTIONS)}")
        if self.class_names is not None and self.classes is None:
            object.__setattr__(self, "classes", len(self.class_names))
        if self.class_names is not None and len(self.class_names) != self.classes:
            raise ValueError(f"dataset {self.name!r}: {len(self.class_names)} class names for {self.classes} classes")
        if not callable(self.loader):
            raise TypeError(f"dataset {self.name!r}: loader must be callable, got {self.loader!r}")

    @property
    def may_be_image(self) -> bool:
        """Whether image models (CNNs) and augmentation can apply."""
        return self.kind != "tabular"

    def known_shape(self, config: DatasetSpec) -> tuple[tuple[int, ...], int] | None:
        """Input shape and classes for these settings without loading anything; None: only the data knows."""
        classes = self.classes
        if classes is None and "n_classes" in self.options:
            classes = config.n_classes
        if self.input_shape is None or classes is None:
            return None
        return self.input_shape, classes


class DatasetRegistry:
    """Dataset entries by name, in registration order (the order the form and the CLI list them).

    Iterating yields entries. Writes replace the whole dict, so readers in other threads (the
    dashboard's sessions) never see it change under them."""

    def __init__(self) -> None:
        self._entries: dict[str, DatasetEntry] = {}
        self._lock = threading.Lock()

    def register(self, entry: DatasetEntry, *, replace: bool = False) -> DatasetEntry:
        """Add `entry`; a name already taken is an error unless `replace`."""
        if not isinstance(entry, DatasetEntry):
            raise TypeError(f"register takes a DatasetEntry, got {type(entry).__name__}")
        with self._lock:
            if entry.name in self._entries and not replace:
                raise ValueError(f"a dataset called {entry.name!r} is already registered")
            self._entries = {**self._entries, entry.name: entry}
        return entry

    def unregister(self, name: str) -> DatasetEntry:
        """Remove and return the entry called `name` (DatasetError if there is none)."""
        with self._lock:
            entry = self.get(name)
            self._entries = {n: e for n, e in self._entries.items() if n != name}
        return entry

    def get(self, name: str) -> DatasetEntry:
        """The entry called `name`; DatasetError naming every allowed name if there is none."""
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None:
            raise DatasetError(f"unknown dataset {name!r}; allowed: {', '.join(self._entries)}")
        return entry

    def names(self, where: Callable[[DatasetEntry], bool] | None = None) -> tuple[str, ...]:
        """Every name, or those whose entry `where` accepts (e.g. `lambda e: e.may_be_image`)."""
        return tuple(n for n, e in self._entries.items() if where is None or where(e))

    def entries(self) -> tuple[DatasetEntry, ...]:
        return tuple(self._entries.values())

    def as_mapping(self) -> Mapping[str, DatasetEntry]:
        """A read-only, always current name -> entry view (what `DATASET_INFO` used to be)."""
        return _View(self)

    def __iter__(self) -> Iterator[DatasetEntry]:
        return iter(self.entries())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class _View(Mapping):
    def __init__(self, registry: DatasetRegistry) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> DatasetEntry:
        try:
            return self._registry.get(name)
        except DatasetError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.names())

    def __len__(self) -> int:
        return len(self._registry)


REGISTRY = DatasetRegistry()
register = REGISTRY.register
unregister = REGISTRY.unregister
get = REGISTRY.get
names = REGISTRY.names
entries = REGISTRY.entries


# --- the built-in datasets -------------------------------------------------------------------

def _points(name: str, title: str, description: str, class_names: tuple[str, ...] | None = None,
            options: tuple[str, ...] = ("noise",)) -> DatasetEntry:
    """A 2-D generator from `bnviz.data.toys`."""
    return DatasetEntry(name, title, description, "tabular",
                        functools.partial(toys.load_points, name, class_names), input_shape=(2,),
                        class_names=class_names, n_train=toys.TOY_SIZE, n_test=toys.TOY_SIZE, options=options)


def _image_set(name: str, title: str, description: str, shape: tuple[int, ...], class_names: tuple[str, ...],
               n_train: int, n_test: int) -> DatasetEntry:
    """A classic image set: local files, Keras' cache or a download (`bnviz.data.downloads`)."""
    return DatasetEntry(name, title, description, "image",
                        functools.partial(downloads.load_image_set, name, shape, class_names), input_shape=shape,
                        class_names=class_names, n_train=n_train, n_test=n_test, downloadable=True)


_DIGITS = tuple(str(i) for i in range(10))

for _entry in (
    _points("circles", "Circles", "Two concentric noisy rings of 2-D points (scikit-learn make_circles).",
            ("outer", "inner")),
    _points("moons", "Moons", "Two interleaving half-moons of 2-D points (scikit-learn make_moons).",
            ("upper", "lower")),
    _points("spirals", "Spirals", "Two interleaved 2-D spirals; noise sets how much the points scatter.",
            ("spiral A", "spiral B")),
    # make_blobs takes no noise; the form has always offered the slider for blobs too (unchanged here)
    _points("blobs", "Blobs", "One Gaussian cluster of 2-D points per class (scikit-learn make_blobs).",
            options=("noise", "n_classes")),
    DatasetEntry("digits", "Digits 8x8", "1,797 small 8x8 handwritten digits bundled with scikit-learn.", "image",
                 toys.load_digits, input_shape=(8, 8, 1), class_names=_DIGITS, n_train=toys.DIGITS_N_TRAIN,
                 n_test=toys.DIGITS_N_TEST),
    _image_set("mnist", "MNIST", "70,000 28x28 grey-scale handwritten digits, 10 classes.",
               (28, 28, 1), _DIGITS, 60000, 10000),
    _image_set("fashion_mnist", "Fashion-MNIST", "70,000 28x28 grey-scale photos of clothing, 10 classes.",
               (28, 28, 1), ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"), 60000, 10000),
    _image_set("cifar10", "CIFAR-10", "60,000 32x32 colour photos (planes, cars, animals...), 10 classes.",
               (32, 32, 3), ("airplane", "automobile", "bird", "cat", "deer",
                             "dog", "frog", "horse", "ship", "truck"), 50000, 10000),
    DatasetEntry("npz", "Your .npz", "Your own arrays: np.savez(path, x=X, y=y), or x_train, y_train with optional "
                 "x_test, y_test. Without a test split, 20% of each class is held out.", "any",
                 uploads.load_file, is_file=True),
    DatasetEntry("csv", "Your .csv", "Your own table: numeric feature columns plus a label column (numbers or "
                 "text); 20% of each class is held out.", "tabular", uploads.load_file, is_file=True,
                 options=("label_column",)),
):
    REGISTRY.register(_entry)
del _entry
