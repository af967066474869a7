"""Near-duplicate detection: the same article syndicated with other page furniture, re-published with
edits, or cut short, found across runs and grouped into clusters.

    worker:  text → word shingles → MinHash (rensa, 128 permutations) → one 32-bit hash per LSH band
    commit:  band hashes → candidates (documents sharing a band) → each candidate verified on the shingle
             sets themselves (Jaccard ≥ threshold, or containment for a copy cut short) → cluster

A cluster's id is the doc_id of its first document, so it never changes as the cluster grows. Band hashes
of stored documents persist in the warehouse (`signatures/`) and in the dedup index on disk (index.py),
where each text's band keys are looked up: memory does not grow with the warehouse.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from flows.config import DedupConfig
from flows.dedup.index import DedupIndex, hex_of

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
    """In how many distinct stored texts each paragraph occurs (approximately: hashed counters).

    A paragraph found in many different texts is page furniture that extraction kept (a sidebar of
    quotes, a newsletter pitch), not the article: verification leaves such paragraphs out, so two
    different articles sharing a template's leftovers are not taken for copies. The counters of stored
    texts live in the dedup index (read per paragraph, kept for the batch), those of texts placed since
    the last commit here."""

    SIZE = 1 << 25  # counter slots (part of the index's format): ~1 paragraph per slot at a million texts

    def __init__(self, frequent: int, index: DedupIndex | None = None) -> None:
        self.frequent = frequent
        self.index = index
        self._pending: dict[int, int] = {}
        self._stored: dict[int, int] = {}  # counters read from the index since it last changed

    @classmethod
    def slots(cls, hashes: np.ndarray) -> np.ndarray:
        return (np.asarray(hashes, np.uint64) % np.uint64(cls.SIZE)).astype(np.int64)

    def add(self, hashes: Iterable[int] | np.ndarray) -> None:
        array = np.asarray(list(hashes) if not isinstance(hashes, np.ndarray) else hashes, np.uint64)
        if len(array):
            where, times = np.unique(self.slots(array), return_counts=True)
            pending = self._pending
            for slot, count in zip(where.tolist(), times.tolist(), strict=True):
                pending[slot] = pending.get(slot, 0) + count

    def frequent_mask(self, paragraphs: np.ndarray) -> np.ndarray:
        slots = self.slots(paragraphs)
        unique = np.unique(slots).tolist()
        stored, pending = self._stored, self._pending
        if self.index is not None:
            missing = [slot for slot in unique if slot not in stored]
            if missing:
                found = self.index.paragraph_counts(missing)
                for slot in missing:
                    stored[slot] = found.get(slot, 0)
        count = {slot: stored.get(slot, 0) + pending.get(slot, 0) for slot in unique}
        return np.fromiter((count[slot] >= self.frequent for slot in slots.tolist()), bool, len(slots))

    def recorded(self) -> None:
        """The texts counted here are in the index now."""
        self._pending.clear()
        self._stored.clear()

    def reread(self) -> None:
        """The index took in other processes' texts: its counters are read anew."""
        self._stored.clear()


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


class BandIndex:
    """Band key → members: those stored in the dedup index (looked up per text), and those added since the
    last commit recorded them (here)."""

    def __init__(self, bands: int, index: DedupIndex | None = None) -> None:
        self.bands = bands
        self.index = index
        self._recent: dict[int, list[Member]] = {}
        self._recent_count = 0

    @property
    def size(self) -> int:
        stored = self.index.member_count() if self.index is not None else 0
        return stored + self._recent_count

    def add(self, member: Member, bands: list[int]) -> None:
        """The member under each of its band keys (band << 32 | value, as the index keys them; an int key
        hashes faster than a (band, value) tuple)."""
        recent = self._recent
        for band, value in enumerate(bands):
            key = band << 32 | value
            listed = recent.get(key)
            if listed is None:
                recent[key] = [member]
            else:
                listed.append(member)
        self._recent_count += 1

    def recorded(self) -> None:
        """The members added so far are in the index now."""
        self._recent.clear()
        self._recent_count = 0

    def candidates(self, bands: list[int]) -> list[Member]:
        """Members sharing a band with these, each once, in band order (per band: the stored members in
        order of arrival, then those added since): the first of equally similar candidates wins."""
        found: dict[str, Member] = {}
        keys = [band << 32 | value for band, value in enumerate(bands)]
        stored: dict[int, list[Member]] = {}
        if self.index is not None:
            for key, _, doc, cluster, path in self.index.members(keys):
                stored.setdefault(key, []).append(Member(hex_of(doc), hex_of(cluster), path))
        for key in keys:
            for member in stored.get(key, ()):
                found.setdefault(member.doc_id, member)
            for member in self._recent.get(key, ()):
                found.setdefault(member.doc_id, member)
        return list(found.values())


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

    def __init__(self, options: DedupConfig, read_text: ReadText, index: DedupIndex | None = None) -> None:
        self.options = options
        self.bands = BandIndex(options.all_bands, index)
        self.cache = ShingleCache(options.shingle_words, read_text)
        self.paragraphs = ParagraphCounts(options.frequent_paragraph, index)
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

    def recorded(self) -> None:
        """What was added is in the index now (or the index took in other processes' commits)."""
        self.bands.recorded()
        self.paragraphs.recorded()
