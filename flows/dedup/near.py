"""Near-duplicate detection: the same article syndicated with other page furniture, re-published with
edits, or cut short, found across runs and grouped into clusters.

    worker:  text → word shingles → MinHash (rensa, 128 permutations) → one 32-bit hash per LSH band
    commit:  band hashes → candidates (documents sharing a band) → each candidate verified on the shingle
             sets themselves (Jaccard ≥ threshold, or containment for a copy cut short) → cluster

A cluster's id is the doc_id of its first document, so it never changes as the cluster grows. Band hashes
of stored documents persist in the warehouse (`signatures/`) and are loaded into sorted numpy arrays:
about 420 bytes per document (32 band keys of 8 bytes and their rows), so a million stored documents fit
in well under 1 GB.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from flows.config import DedupConfig

SEED = 20_261_124  # part of the signature format: changing it invalidates stored signatures
LEAD_SEED = SEED + 2  # the lead signature's MinHash (format too)
LEAD_ROWS = 3  # rows per lead band (format too)
_WORD = re.compile(r"\w+")
# Fixed odd multipliers that fold a band's rows into one hash (part of the signature format too).
_MIX = np.random.default_rng(SEED).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


@dataclass(frozen=True, slots=True)
class Signature:
    """What the extraction workers compute for the commit step: the text's LSH band hashes, and the
    hashes of its paragraphs (every stored text's paragraphs are counted, see ParagraphCounts)."""

    bands: list[int]  # [] for a text with no words
    paragraphs: list[int]  # one per line with words


def signature(text: str, options: DedupConfig) -> Signature:
    """Both hash lists from one pass over the text's words: a line's words are its tokens, and the text's
    tokens are its lines' tokens end to end (a word never spans a line break). The bands are the whole
    text's, then its lead's (the first `lead_words` words: found again in a copy cut short and edited)."""
    lines = [tokens for line in text.lower().split("\n") if (tokens := _WORD.findall(line))]
    paragraphs = [paragraph_hash(tokens) for tokens in lines]
    tokens = [token for line in lines for token in line]
    grams = _grams(tokens, options.shingle_words)
    bands = _bands(grams, options.num_perm, options.bands, SEED)
    if bands and options.lead_bands:
        lead = grams[: max(1, options.lead_words - options.shingle_words + 1)]
        bands += _bands(lead, options.lead_bands * LEAD_ROWS, options.lead_bands, LEAD_SEED)
    return Signature(bands, paragraphs)


def _grams(tokens: list[str], words: int) -> list[str]:
    if len(tokens) <= words:
        return [" ".join(tokens)] if tokens else []
    # zip over shifted views: the same strings as joining each slice, at half the cost
    return list(map(" ".join, zip(*(tokens[i:] for i in range(words)), strict=False)))


def _bands(items: list[str], num_perm: int, bands: int, seed: int) -> list[int]:
    from rensa import RMinHash

    if not items:
        return []
    minhash = RMinHash(num_perm=num_perm, seed=seed)
    minhash.update(items)
    rows = num_perm // bands
    digest = np.asarray(minhash.digest(), dtype=np.uint64).reshape(bands, rows)
    with np.errstate(over="ignore"):
        mixed = (digest * _MIX[:rows]).sum(axis=1, dtype=np.uint64)
    folded = (mixed >> np.uint64(32)) ^ (mixed & np.uint64(0xFFFFFFFF))
    return [int(v) for v in folded]


@dataclass(frozen=True)
class Profile:
    """A text for verification, compactly: its paragraphs' stable hashes, and its shingle ids with the
    paragraph each one comes from."""

    paragraphs: np.ndarray  # uint32, one per paragraph (line)
    shingle_paragraph: np.ndarray  # int32, for each shingle the index of its paragraph
    shingle_ids: np.ndarray  # int64


def paragraph_hash(tokens: list[str]) -> int:
    digest = hashlib.blake2b(" ".join(tokens).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def paragraph_hashes(text: str) -> np.ndarray:
    """The paragraphs' hashes alone (what every stored text needs); its shingles are only worked out when
    it has candidates to verify (profile)."""
    hashes = [paragraph_hash(tokens) for line in text.split("\n") if (tokens := _WORD.findall(line.lower()))]
    return np.asarray(hashes, np.uint32)


def profile(text: str, words: int, paragraphs: list[int] | None = None) -> Profile:
    """The text's profile; `paragraphs`, its paragraphs' hashes when already known (signature)."""
    lines = [tokens for line in text.split("\n") if (tokens := _WORD.findall(line.lower()))]
    if paragraphs is None or len(paragraphs) != len(lines):
        paragraphs = [paragraph_hash(tokens) for tokens in lines]
    ids, owner = line_shingle_ids(lines, words)
    return Profile(np.asarray(paragraphs, np.uint32), owner, ids)


# Odd multipliers that combine a shingle's word hashes into its id (ids live within one process only).
_WORD_MIX = np.random.default_rng(SEED + 1).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


def line_shingle_ids(lines: list[list[str]], words: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, line of each id): one 64-bit id per run of `words` words within a line (a shorter line: one
    id for all of it), made from each word's hash: a word is hashed once, not once per shingle it is in,
    and no shingle string is built (a third of the time of joining and hashing the shingles)."""
    counts = np.fromiter((len(tokens) for tokens in lines), np.int64, len(lines))
    total = int(counts.sum())
    if not total:
        return np.empty(0, np.int64), np.empty(0, np.int32)
    hashes = np.fromiter((hash(w) for tokens in lines for w in tokens), np.int64, total).view(np.uint64)
    line_of = np.repeat(np.arange(len(lines), dtype=np.int32), counts)
    mix = _WORD_MIX[:words]
    ids, owner = [], []
    with np.errstate(over="ignore"):
        if total >= words:
            windows = total - words + 1
            combined = hashes[:windows] * mix[0]
            for k in range(1, words):
                combined += hashes[k : k + windows] * mix[k]
            within = line_of[:windows] == line_of[words - 1 :]  # windows that do not cross a line break
            ids.append(combined[within])
            owner.append(line_of[:windows][within])
        short = np.flatnonzero(counts < words)
        if len(short):
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            ids.append(
                np.asarray(
                    [(hashes[starts[i] : starts[i] + counts[i]] * mix[: counts[i]]).sum() for i in short],
                    np.uint64,
                )
            )
            owner.append(short.astype(np.int32))
    return np.concatenate(ids).view(np.int64), np.concatenate(owner)


class ParagraphCounts:
    """In how many distinct stored texts each paragraph occurs (approximately: a hashed counter table).

    A paragraph found in many different texts is page furniture that extraction kept (a sidebar of
    quotes, a newsletter pitch), not the article: verification leaves such paragraphs out, so two
    different articles sharing a template's leftovers are not taken for copies."""

    SIZE = 1 << 25  # 64 MB of uint16 counters; ~1 paragraph per slot at a million documents

    def __init__(self, frequent: int) -> None:
        self.frequent = frequent
        self._counts = np.zeros(self.SIZE, np.uint16)

    def add(self, hashes: Iterable[int] | np.ndarray) -> None:
        slots = np.asarray(list(hashes) if not isinstance(hashes, np.ndarray) else hashes, np.uint64)
        if len(slots):  # as np.add.at, ~25 % faster on these short arrays
            where, times = np.unique((slots % np.uint64(self.SIZE)).astype(np.int64), return_counts=True)
            self._counts[where] += times.astype(np.uint16)

    def frequent_mask(self, paragraphs: np.ndarray) -> np.ndarray:
        slots = (paragraphs.astype(np.uint64) % np.uint64(self.SIZE)).astype(np.int64)
        return self._counts[slots] >= self.frequent


@dataclass(frozen=True)
class Content:
    """A text as verification compares it: its shingle ids less those of frequent furniture paragraphs
    (unique, sorted), and, for the paragraph rule, each remaining shingle with its paragraph."""

    ids: np.ndarray  # int64, unique
    shingles: np.ndarray  # int64, the non-furniture shingles in text order (repeats kept)
    paragraph: np.ndarray  # int32, the paragraph of each of `shingles`

    def __len__(self) -> int:
        return len(self.ids)


def content(text_profile: Profile, counts: ParagraphCounts) -> Content:
    """The text's shingles less those of the paragraphs that are frequent furniture."""
    if not len(text_profile.paragraphs):
        empty = np.empty(0, np.int64)
        return Content(empty, empty, np.empty(0, np.int32))
    frequent = counts.frequent_mask(text_profile.paragraphs)
    ids, owner = text_profile.shingle_ids, text_profile.shingle_paragraph
    if frequent.any():
        keep = ~frequent[owner]
        ids, owner = ids[keep], owner[keep]
    return Content(np.unique(ids), ids, owner)


def spread(shorter: Content, longer: Content) -> tuple[float, int]:
    """(share of the shorter text's shingles that lie in paragraphs mostly found in the longer text, how
    many such paragraphs): a copy's paragraphs each match, edited or not; a quote is one paragraph."""
    if not len(shorter.shingles):
        return 0.0, 0
    found = np.isin(shorter.shingles, longer.ids, assume_unique=False)
    total = np.bincount(shorter.paragraph)
    hits = np.bincount(shorter.paragraph, weights=found, minlength=len(total))
    matched = (total > 0) & (hits * 2 >= total)
    return float(total[matched].sum() / total.sum()), int(matched.sum())


@dataclass(frozen=True)
class Similarity:
    jaccard: float
    containment: float  # |A ∩ B| / min(|A|, |B|)
    smaller: int  # shingles of the shorter text
    spread: float = 0.0  # share of the shorter text in paragraphs mostly found in the other (see spread)
    paragraphs: int = 0  # how many such paragraphs

    def same_article(self, options: DedupConfig) -> bool:
        if self.jaccard >= options.threshold:
            return True
        if self.smaller < options.min_containment_shingles:
            return False
        return self.containment >= options.containment or (
            self.spread >= options.spread and self.paragraphs >= options.spread_paragraphs
        )

    @property
    def score(self) -> float:
        return max(self.jaccard, self.containment)


def compare(a: Content, b: Content, options: DedupConfig | None = None) -> Similarity:
    """Jaccard and containment of the two shingle sets; with `options`, where they alone do not decide,
    the paragraph spread of the shorter text in the longer one too."""
    if not len(a) or not len(b):
        return Similarity(0.0, 0.0, 0)
    common = np.intersect1d(a.ids, b.ids, assume_unique=True).size
    smaller = min(len(a), len(b))
    jaccard, containment = common / (len(a) + len(b) - common), common / smaller
    similar = Similarity(jaccard, containment, smaller)
    if options is None or similar.same_article(options) or smaller < options.min_containment_shingles:
        return similar
    if containment < options.spread * 0.5:  # the spread cannot reach options.spread: skip the work
        return similar
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    share, paragraphs = spread(shorter, longer)
    return Similarity(jaccard, containment, smaller, share, paragraphs)


@dataclass
class Member:
    """A stored document as the index knows it."""

    doc_id: str
    cluster_id: str
    doc_file: str  # the documents file holding its text (read back to verify a candidate)


@dataclass
class _Segment:
    """Members in sorted arrays: every (band, value) pair of every member as one 64-bit key (the band in
    the high half), sorted, with the member row of each, so that a text's bands are looked up in one
    search per segment rather than one per band (at 10k documents a run made 1.9 million searches)."""

    keys: np.ndarray  # uint64, sorted
    rows: np.ndarray  # uint32, the member row of each key
    doc_ids: np.ndarray  # 'S16'
    cluster_ids: np.ndarray  # 'S16'
    file_index: np.ndarray  # int32, into BandIndex._files

    @classmethod
    def build(
        cls, doc_ids: np.ndarray, cluster_ids: np.ndarray, file_index: np.ndarray, bands: np.ndarray
    ) -> _Segment:
        # The keys sorted are each band's values sorted, band after band: built a band at a time, so that
        # loading a million members needs no temporary larger than one band's (~8 MB).
        count, width = bands.shape
        keys, rows = np.empty(count * width, np.uint64), np.empty(count * width, np.uint32)
        for band in range(width):
            order = np.argsort(bands[:, band], kind="stable")
            block = slice(band * count, (band + 1) * count)
            keys[block] = band_keys(band, bands[order, band])
            rows[block] = order
        return cls(keys, rows, doc_ids, cluster_ids, file_index)

    def band_matrix(self) -> np.ndarray:
        """The band values in row order again (to merge segments)."""
        count = len(self.doc_ids)
        width = len(self.keys) // max(count, 1)
        matrix = np.empty((count, width), np.uint32)
        for band in range(width):
            block = slice(band * count, (band + 1) * count)
            matrix[self.rows[block], band] = self.keys[block].astype(np.uint32)
        return matrix

    def sharing(self, keys: np.ndarray) -> list[tuple[int, int]]:
        """(band, row) of the members that share one of these band keys (one key per band), by band, then
        in key order."""
        lo = np.searchsorted(self.keys, keys, "left")
        hi = np.searchsorted(self.keys, keys, "right")
        return [
            (band, row)
            for band in np.flatnonzero(hi > lo).tolist()
            for row in self.rows[lo[band] : hi[band]].tolist()
        ]

    @classmethod
    def merge(cls, segments: list[_Segment]) -> _Segment:
        return cls.build(
            np.concatenate([s.doc_ids for s in segments]),
            np.concatenate([s.cluster_ids for s in segments]),
            np.concatenate([s.file_index for s in segments]),
            np.concatenate([s.band_matrix() for s in segments]),
        )


class BandIndex:
    """Band hash → members. Members live in sorted numpy segments (~420 bytes each); those added since
    the last seal in a dict, sealed into a new segment every SEAL members, segments merged when there
    are more than MAX_SEGMENTS, so memory grows by bytes, not Python objects, per stored document."""

    SEAL = 1024  # ~8 KB of Python objects per unsealed member: ~7 MB at most
    MAX_SEGMENTS = 8

    def __init__(self, bands: int) -> None:
        self.bands = bands
        self._segments: list[_Segment] = []
        self._files: list[str] = []
        self._file_numbers: dict[str, int] = {}
        self._recent: dict[int, list[Member]] = {}
        self._recent_members: list[tuple[Member, list[int]]] = []
        self.size = 0

    def load(
        self,
        doc_ids: np.ndarray,
        cluster_ids: np.ndarray,
        files: tuple[list[str], np.ndarray],
        bands: np.ndarray,
    ) -> None:
        """Bulk load: doc_ids and cluster_ids as 'S16' arrays, files as (names, index of each row's name),
        bands as a uint32 [n, bands] matrix."""
        names, index = files
        numbers = np.asarray([self._file_number(name) for name in names], dtype=np.int32)
        file_index = numbers[index] if len(names) else np.empty(0, np.int32)
        if len(doc_ids):
            self._segments.append(_Segment.build(doc_ids, cluster_ids, file_index, bands))
        self.size += len(doc_ids)

    def _file_number(self, path: str) -> int:
        number = self._file_numbers.get(path)
        if number is None:
            number = self._file_numbers[path] = len(self._files)
            self._files.append(path)
        return number

    def add(self, member: Member, bands: list[int]) -> None:
        self._index_recent(member, bands)
        self._recent_members.append((member, bands))
        self.size += 1
        if len(self._recent_members) >= self.SEAL:
            self._seal()

    def _seal(self) -> None:
        """Move the recent members whose file is known into a new segment."""
        ready = [(m, b) for m, b in self._recent_members if m.doc_file]
        if not ready:
            return
        waiting = [(m, b) for m, b in self._recent_members if not m.doc_file]
        self._segments.append(
            _Segment.build(
                np.asarray([m.doc_id for m, _ in ready], "S16"),
                np.asarray([m.cluster_id for m, _ in ready], "S16"),
                np.asarray([self._file_number(m.doc_file) for m, _ in ready], np.int32),
                np.asarray([b for _, b in ready], np.uint32),
            )
        )
        self._recent_members = waiting
        self._recent = {}
        for member, bands in waiting:
            self._index_recent(member, bands)
        if len(self._segments) > self.MAX_SEGMENTS:
            base, rest = self._segments[0], _Segment.merge(self._segments[1:])
            self._segments = (
                [_Segment.merge([base, rest])] if len(rest.doc_ids) >= len(base.doc_ids) else [base, rest]
            )

    def candidates(self, bands: list[int]) -> list[Member]:
        """Members sharing a band with these, each once, in band order (per band: the segments in order,
        then the members added since the last seal): the first of equally similar candidates wins."""
        found: dict[str, Member] = {}
        keys = band_keys(np.arange(len(bands)), np.asarray(bands, np.uint32))
        by_band: dict[int, list[tuple[_Segment, int]]] = {}
        for segment in self._segments:
            for band, row in segment.sharing(keys):
                by_band.setdefault(band, []).append((segment, row))
        for band, value in enumerate(bands):
            for segment, row in by_band.get(band, ()):
                doc_id = segment.doc_ids[row].decode()
                if doc_id not in found:
                    found[doc_id] = Member(
                        doc_id, segment.cluster_ids[row].decode(), self._files[segment.file_index[row]]
                    )
            for member in self._recent.get(band << 32 | value, ()):
                found.setdefault(member.doc_id, member)
        return list(found.values())

    def _index_recent(self, member: Member, bands: list[int]) -> None:
        """The member under each of its band keys (band in the high half, as band_keys; an int key
        hashes faster than a (band, value) tuple)."""
        recent = self._recent
        for band, value in enumerate(bands):
            key = band << 32 | value
            listed = recent.get(key)
            if listed is None:
                recent[key] = [member]
            else:
                listed.append(member)


def band_keys(band: int | np.ndarray, values: np.ndarray) -> np.ndarray:
    """The segments' uint64 keys of band values: the band number in the high half, the value below."""
    return (np.asarray(band, np.uint64) << np.uint64(32)) | values.astype(np.uint64)


# Reads the text of one document (doc_id) from its documents file (path); None when it is not there.
ReadText = Callable[[str, str], str | None]


@dataclass
class ShingleCache:
    """Profiles of recently seen documents; others are read back from their documents file."""

    words: int
    read_text: ReadText
    capacity: int = 2048  # full after ~2,000 documents: memory stays flat beyond
    _sets: OrderedDict[str, Profile | str] = field(default_factory=OrderedDict)
    reads: int = 0

    def put(self, doc_id: str, shingle_ids: Profile | str) -> None:
        """A profile, or the text itself (profiled if it is ever a candidate: most never are)."""
        self._sets[doc_id] = shingle_ids
        self._sets.move_to_end(doc_id)
        while len(self._sets) > self.capacity:
            self._sets.popitem(last=False)

    def holds(self, doc_id: str) -> bool:
        return doc_id in self._sets

    def get(self, member: Member) -> Profile:
        cached = self._sets.get(member.doc_id)
        if cached is not None:
            self._sets.move_to_end(member.doc_id)
            if isinstance(cached, str):
                cached = self._sets[member.doc_id] = profile(cached, self.words)
            return cached
        self.reads += 1
        text = self.read_text(member.doc_file, member.doc_id)
        if text is None:
            return profile("", self.words)
        found = profile(text, self.words)
        self.put(member.doc_id, found)
        return found


@dataclass(frozen=True)
class Placement:
    cluster_id: str
    duplicate_of: str | None  # the member it matched (None: the first of a new cluster)
    similarity: float | None  # Jaccard similarity to that member (a copy cut short shows less than 1)


class NearIndex:
    """Assigns each new document to the cluster of its most similar verified candidate, or a new one."""

    def __init__(self, options: DedupConfig, read_text: ReadText) -> None:
        self.options = options
        self.bands = BandIndex(options.all_bands)
        self.cache = ShingleCache(options.shingle_words, read_text)
        self.paragraphs = ParagraphCounts(options.frequent_paragraph)
        self.verified = 0

    def place(
        self, doc_id: str, text: str, bands: list[int], paragraphs: list[int] | None = None
    ) -> tuple[Placement, np.ndarray]:
        """Count the text's paragraphs (their hashes as the worker computed them, else worked out here),
        then find its cluster; returns the paragraphs' hashes too."""
        candidates = [m for m in self.bands.candidates(bands) if m.doc_id != doc_id] if bands else []
        if not candidates:  # nothing to verify: no shingles needed
            hashes = paragraph_hashes(text) if paragraphs is None else np.asarray(paragraphs, np.uint32)
            self.paragraphs.add(hashes)
            return Placement(doc_id, None, None), hashes
        mine_profile = profile(text, self.options.shingle_words, paragraphs)
        self.paragraphs.add(mine_profile.paragraphs)
        mine = content(mine_profile, self.paragraphs)
        best: tuple[float, float, Member] | None = None
        for member in candidates:
            self.verified += 1
            similarity = compare(mine, content(self.cache.get(member), self.paragraphs), self.options)
            if similarity.same_article(self.options) and (best is None or similarity.score > best[0]):
                best = (similarity.score, similarity.jaccard, member)
                if similarity.score >= 1.0:  # none can score higher, and the first of equals wins anyway
                    break
        self.cache.put(doc_id, mine_profile)
        if best is None:
            return Placement(doc_id, None, None), mine_profile.paragraphs
        _, jaccard, member = best
        return Placement(member.cluster_id, member.doc_id, round(jaccard, 4)), mine_profile.paragraphs

    def add(self, member: Member, bands: list[int], text: str | None = None) -> None:
        """Index a member; its text (when given) stays at hand for verifying the documents that follow."""
        if bands:
            self.bands.add(member, bands)
        if text is not None and not self.cache.holds(member.doc_id):
            self.cache.put(member.doc_id, text)
