"""Near-duplicate detection: the same article syndicated with other page furniture, re-published with
edits, or cut short, found across runs and grouped into clusters.

    worker:  text → word shingles → MinHash (rensa, 128 permutations) → one 32-bit hash per LSH band
    commit:  band hashes → candidates (documents sharing a band) → each candidate verified on the shingle
             sets themselves (Jaccard ≥ threshold, or containment for a copy cut short) → cluster

A cluster's id is the doc_id of its first document, so it never changes as the cluster grows. Band hashes
of stored documents persist in the warehouse (`signatures/`) and are loaded into sorted numpy arrays:
about 300 bytes per document, so a million stored documents fit in well under 1 GB.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from flows.config import DedupConfig

SEED = 20_261_124  # part of the signature format: changing it invalidates stored signatures
_WORD = re.compile(r"\w+")
# Fixed odd multipliers that fold a band's rows into one hash (part of the signature format too).
_MIX = np.random.default_rng(SEED).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


def shingles(text: str, words: int) -> list[str]:
    """Overlapping runs of `words` lowercase words (punctuation ignored)."""
    tokens = _WORD.findall(text.lower())
    if len(tokens) <= words:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i : i + words]) for i in range(len(tokens) - words + 1)]


def band_hashes(text: str, options: DedupConfig) -> list[int]:
    """The text's LSH band hashes (computed in the extraction workers); [] for a text with no words."""
    from rensa import RMinHash

    items = shingles(text, options.shingle_words)
    if not items:
        return []
    minhash = RMinHash(num_perm=options.num_perm, seed=SEED)
    minhash.update(items)
    rows = options.num_perm // options.bands
    digest = np.asarray(minhash.digest(), dtype=np.uint64).reshape(options.bands, rows)
    with np.errstate(over="ignore"):
        mixed = (digest * _MIX[:rows]).sum(axis=1, dtype=np.uint64)
    folded = (mixed >> np.uint64(32)) ^ (mixed & np.uint64(0xFFFFFFFF))
    return [int(v) for v in folded]


def shingle_set(text: str, words: int) -> np.ndarray:
    """Sorted unique 64-bit ids of the text's shingles (Python's string hash: valid within one process)."""
    return np.unique(np.fromiter((hash(s) for s in shingles(text, words)), dtype=np.int64))


@dataclass(frozen=True)
class Similarity:
    jaccard: float
    containment: float  # |A ∩ B| / min(|A|, |B|)
    smaller: int  # shingles of the shorter text

    def same_article(self, options: DedupConfig) -> bool:
        return self.jaccard >= options.threshold or (
            self.containment >= options.containment and self.smaller >= options.min_containment_shingles
        )

    @property
    def score(self) -> float:
        return max(self.jaccard, self.containment)


def compare(a: np.ndarray, b: np.ndarray) -> Similarity:
    if not len(a) or not len(b):
        return Similarity(0.0, 0.0, 0)
    common = np.intersect1d(a, b, assume_unique=True).size
    smaller = min(len(a), len(b))
    return Similarity(common / (len(a) + len(b) - common), common / smaller, smaller)


@dataclass
class Member:
    """A stored document as the index knows it."""

    doc_id: str
    cluster_id: str
    doc_file: str  # the documents file holding its text (read back to verify a candidate)


class BandIndex:
    """Band hash → members, for stored documents (sorted numpy arrays) and those added since (a dict)."""

    def __init__(self, bands: int) -> None:
        self.bands = bands
        self._sorted: list[np.ndarray] = [np.empty(0, np.uint32)] * bands
        self._order: list[np.ndarray] = [np.empty(0, np.uint32)] * bands
        self._doc_ids = np.empty(0, "S16")
        self._cluster_ids = np.empty(0, "S16")
        self._file_index = np.empty(0, np.int32)
        self._files: list[str] = []
        self._file_numbers: dict[str, int] = {}
        self._recent: dict[tuple[int, int], list[Member]] = {}
        self.size = 0

    def load(self, doc_ids: np.ndarray, cluster_ids: np.ndarray, files: list[str], bands: np.ndarray) -> None:
        """Bulk load: doc_ids and cluster_ids as 'S16' arrays, bands as a uint32 [n, bands] matrix."""
        numbers = np.fromiter((self._file_number(f) for f in files), dtype=np.int32, count=len(files))
        self._doc_ids, self._cluster_ids, self._file_index = doc_ids, cluster_ids, numbers
        for band in range(self.bands):
            column = bands[:, band]
            order = np.argsort(column, kind="stable").astype(np.uint32)
            self._order[band] = order
            self._sorted[band] = column[order]
        self.size = len(doc_ids)

    def _file_number(self, path: str) -> int:
        number = self._file_numbers.get(path)
        if number is None:
            number = self._file_numbers[path] = len(self._files)
            self._files.append(path)
        return number

    def add(self, member: Member, bands: list[int]) -> None:
        for band, value in enumerate(bands):
            self._recent.setdefault((band, value), []).append(member)
        self.size += 1

    def candidates(self, bands: list[int]) -> list[Member]:
        found: dict[str, Member] = {}
        for band, value in enumerate(bands):
            column = self._sorted[band]
            if len(column):
                lo = int(np.searchsorted(column, value, "left"))
                hi = int(np.searchsorted(column, value, "right"))
                for position in self._order[band][lo:hi]:
                    doc_id = self._doc_ids[position].decode()
                    if doc_id not in found:
                        found[doc_id] = Member(
                            doc_id,
                            self._cluster_ids[position].decode(),
                            self._files[self._file_index[position]],
                        )
            for member in self._recent.get((band, value), ()):
                found.setdefault(member.doc_id, member)
        return list(found.values())


# Reads (doc_id, text) rows of one documents file.
ReadTexts = Callable[[str], Iterable[tuple[str, str]]]


@dataclass
class ShingleCache:
    """Shingle sets of recently seen documents; others are read back from their documents file."""

    words: int
    read_texts: ReadTexts
    capacity: int = 4096
    _sets: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    reads: int = 0

    def put(self, doc_id: str, shingle_ids: np.ndarray) -> None:
        self._sets[doc_id] = shingle_ids
        self._sets.move_to_end(doc_id)
        while len(self._sets) > self.capacity:
            self._sets.popitem(last=False)

    def get(self, member: Member) -> np.ndarray:
        cached = self._sets.get(member.doc_id)
        if cached is not None:
            self._sets.move_to_end(member.doc_id)
            return cached
        self.reads += 1
        found = np.empty(0, np.int64)
        for doc_id, text in self.read_texts(member.doc_file):
            if doc_id == member.doc_id:
                found = shingle_set(text, self.words)
                self.put(doc_id, found)
        return found


@dataclass(frozen=True)
class Placement:
    cluster_id: str
    duplicate_of: str | None  # the member it matched (None: the first of a new cluster)
    similarity: float | None  # Jaccard similarity to that member (a copy cut short shows less than 1)


class NearIndex:
    """Assigns each new document to the cluster of its most similar verified candidate, or a new one."""

    def __init__(self, options: DedupConfig, read_texts: ReadTexts) -> None:
        self.options = options
        self.bands = BandIndex(options.bands)
        self.cache = ShingleCache(options.shingle_words, read_texts)
        self.verified = 0

    def place(self, doc_id: str, text: str, bands: list[int]) -> tuple[Placement, np.ndarray]:
        mine = shingle_set(text, self.options.shingle_words)
        best: tuple[float, Member] | None = None
        for member in self.bands.candidates(bands) if bands else []:
            if member.doc_id == doc_id:
                continue
            self.verified += 1
            similarity = compare(mine, self.cache.get(member))
            if similarity.same_article(self.options) and (best is None or similarity.score > best[0]):
                best = (similarity.score, member)
        if best is None:
            return Placement(doc_id, None, None), mine
        member = best[1]
        jaccard = compare(mine, self.cache.get(member)).jaccard
        return Placement(member.cluster_id, member.doc_id, round(jaccard, 4)), mine

    def add(self, member: Member, bands: list[int], shingle_ids: np.ndarray | None = None) -> None:
        if bands:
            self.bands.add(member, bands)
        if shingle_ids is not None:
            self.cache.put(member.doc_id, shingle_ids)
